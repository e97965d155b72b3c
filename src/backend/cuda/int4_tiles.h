// The CUDA backend's INT4 weight layout (Int4Layout::kMmaTiles), made on the host at load
// time from tern's row-major layout (quant/int4_weight.h) and read by the W4A16 GEMM
// (w4a16_gemm.cuh) and, on GPUs before sm_90, the dequantiser of linear_int4.cuh.
//
// The GEMM computes out^T = W x^T on the tensor cores with W as the A operand of
// wgmma.m64nNk16, held in registers: warp w of a warpgroup supplies 16 rows x 16 columns
// in the mma.m16n8k16 A-fragment layout. The layout makes a lane's share of a 16 x 64
// tile one 16-byte word that needs no shuffling:
//
//   tiles:   the N x K weight in tiles of 16 rows x 64 columns, tile (rt, s) at
//            ((rt * K/64 + s) * 32 + lane) * 16 bytes: 512 bytes, 16 per lane, and the
//            tiles of one row tile contiguous along K (one bulk copy per row tile).
//   word w:  of lane L's four 32-bit words is k16 step w of the tile; its nibble j holds
//            row 16 rt + L/4 + 8 (j % 2), column 64 s + 16 w + 2 (L % 4) + 8 ((j / 2) % 2) + j / 4.
//
// So nibbles j and j + 4 are two neighbouring columns of one row, which become one bf16x2
// register with a mask and an OR (0x4300 | q is the bf16 number 128 + q), and registers
// j = 0..3 of a word are exactly the A fragment (r, k), (r + 8, k), (r, k + 8), (r + 8, k + 8)
// of its k16 step, with the columns in their natural order (the activations come from
// shared memory as they are in x).
//
//   scales:  [N, G] I32 stored as [N/16][G][16]: for row 16 rt + i and group g, the word at
//            (rt G + g) 16 + i holds the group's scale as BF16 in bits 0-15 (rounded from
//            the checkpoint's F16) and 128 + its zero point (0..16) as BF16 in bits 16-31,
//            exact: each half becomes a bf16 pair with one byte permute. The GEMM forms
//            (128 + code) - (128 + zero) exactly in bf16 and multiplies by the scale, one
//            rounding, as when dequantising to BF16.
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
