// The CUDA backend's INT4 weight layout (Int4Layout::kMmaTiles), made on the host at load
// time from tern's row-major layout (quant/int4_weight.h) and read by the W4A16 kernels in
// linear_int4.cu.
//
// The kernel computes out^T = W x^T on the tensor cores with W as the A operand of
// mma.m16n8k16 (16 output rows by 16 inputs) and the activations as B (8 tokens), so a
// decode step of one token wastes tensor-core lanes but reads every weight byte once. The
// layout makes that read one coalesced 16-byte load per lane that needs no shuffling:
//
//   tiles:   the N x K weight in tiles of 16 rows x 64 columns, tile (rt, s) at
//            ((rt * K/64 + s) * 32 + lane) * 16 bytes: 512 bytes, 16 per lane.
//   lane:    L holds rows r = 16 rt + L/4 and r + 8, and within each 32-column half c of
//            the tile the 8 columns 64 s + 32 c + 8 (L % 4) + [0, 8).
//   word w:  of the lane's four 32-bit words is k-tile t = w % 2 of half c = w / 2; its
//            nibble j holds row r + 8 (j % 2), column
//            64 s + 32 c + 8 (L % 4) + 4 t + 2 ((j / 2) % 2) + j / 4.
//
// Nibbles j and j + 4 of a word become one bf16x2 A-fragment register with one mask and
// one OR (0x4300 | q is the bf16 number 128 + q), and the four registers of a word are
// exactly the fragment of one k-tile. Within a k-tile the mma's logical columns are a
// permutation of the physical ones (lane L's columns 2(L%4), +1, +8, +9 are physical
// 8(L%4) + 4t + 0..3), the same for A and B, so each lane reads its activations as one
// 16-byte load per 32 columns; the dot product is unchanged by the permutation.
//
//   scales:  [N, G] I32 stored as [N/16][G][16]: for row 16 rt + i and group g, the word at
//            (rt G + g) 16 + i holds the group's F16 scale in bits 0-15 and its zero point
//            (0..16) in bits 16-23. Zero points stay integers: the kernel forms code - zero
//            exactly in bf16 and applies the scale in F32 once per group.
//   group_index: for act-order weights, the column permutation: physical column p holds
//            the checkpoint's column group_index[p], sorted by group, so group g is the
//            physical columns [g group_size, (g + 1) group_size); the activations are
//            gathered with it. Empty when the checkpoint's groups are already in order.
//
// Requirements (real Llama-family shapes and GPTQ/AWQ group sizes meet them): N % 16 == 0,
// K % 64 == 0, and a group size that is a power of two >= 32 or covers the whole row.
#pragma once

#include <cstdint>
#include <string>

#include "quant/int4_weight.h"

namespace tern::cuda {

inline constexpr int kInt4TileRows = 16;
inline constexpr int kInt4TileCols = 64;

// Where nibble `nibble` of word `word` of lane `lane` of tile (row_tile, col_tile) sits
// in the (column-permuted) weight. The one statement of the layout above, used by the
// packer and its tests.
struct Int4TileCoord {
  int64_t row = 0;
  int64_t col = 0;
};
Int4TileCoord int4_tile_coord(int64_t row_tile, int64_t col_tile, int lane, int word, int nibble);

// The kMmaTiles form of a validated row-major host weight, as new host tensors. Throws
// tern::Error naming the requirement a shape or an act-order grouping does not meet.
Int4Weight pack_int4_tiles(const Int4Weight& host);

}  // namespace tern::cuda
