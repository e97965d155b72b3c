#include <cuda_fp16.h>

#include "backend/cuda/common.cuh"
#include "backend/cuda/int4_tiles.h"
#include "backend/cuda/linear_int4.cuh"

namespace tern::cuda {
namespace {

// One thread per 16-byte lane word (int4_tiles.h): rows L/4 and L/4 + 8 of its tile,
// and for each k16 step the column pairs 2 (L%4) and 2 (L%4) + 8, written as bf16 pairs.
__global__ void int4_dequantize_kernel(const uint4* __restrict__ tiles, const int32_t* __restrict__ words,
                                       __nv_bfloat16* __restrict__ out, int n, int k, int group_shift,
                                       int num_groups) {
  pdl_start();
  const int col_tiles = k / kInt4TileCols;
  const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= int64_t(n / kInt4TileRows) * col_tiles * 32) return;
  const int lane = int(index % 32);
  const int64_t tile = index / 32;
  const int col_tile = int(tile % col_tiles), row_tile = int(tile / col_tiles);
  const uint4 codes = __ldcs(tiles + index);
#pragma unroll
  for (int step = 0; step < 4; ++step) {
    const uint32_t word = (&codes.x)[step];
#pragma unroll
    for (int j = 0; j < 4; ++j) {  // nibbles j and j + 4: columns col and col + 1 of one row
      const int row = row_tile * kInt4TileRows + lane / 4 + 8 * (j % 2);
      const int col = col_tile * kInt4TileCols + 16 * step + 2 * (lane % 4) + 8 * (j / 2);
      const uint32_t w = uint32_t(__ldg(words + (int64_t(row_tile) * num_groups + (col >> group_shift)) * kInt4TileRows +
                                         row % kInt4TileRows));
      const float scale = __bfloat162float(__ushort_as_bfloat16(uint16_t(w & 0xFFFFu)));
      const int zero = int(__bfloat162float(__ushort_as_bfloat16(uint16_t(w >> 16)))) - 128;
      const int q0 = int((word >> (4 * j)) & 0xFu), q1 = int((word >> (4 * (j + 4))) & 0xFu);
      *reinterpret_cast<__nv_bfloat162*>(out + int64_t(row) * k + col) =
          __floats2bfloat162_rn(scale * float(q0 - zero), scale * float(q1 - zero));
    }
  }
}

__global__ void gather_columns_kernel(const __nv_bfloat16* __restrict__ x, const int32_t* __restrict__ order, int64_t m,
                                      int64_t k, __nv_bfloat16* __restrict__ out) {
  pdl_start();
  const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= m * k) return;
  const int64_t row = index / k, col = index % k;
  out[index] = x[row * k + __ldg(order + col)];
}

}  // namespace

void launch_int4_dequantize(const Int4Problem& p, void* out, cudaStream_t stream) {
  const int64_t threads = p.n / kInt4TileRows * (p.k / kInt4TileCols) * 32;
  const int shift = p.num_groups == 1 ? 30 : __builtin_ctzll(uint64_t(p.group_size));
  launch(int4_dequantize_kernel, ceil_div(threads, 256), 256, 0, stream, static_cast<const uint4*>(p.tiles), p.words,
         static_cast<__nv_bfloat16*>(out), int(p.n), int(p.k), shift, int(p.num_groups));
}

void launch_gather_columns(const void* x, const int32_t* order, int64_t m, int64_t k, void* out, cudaStream_t stream) {
  launch(gather_columns_kernel, ceil_div(m * k, 256), 256, 0, stream, static_cast<const __nv_bfloat16*>(x), order, m, k,
         static_cast<__nv_bfloat16*>(out));
}

}  // namespace tern::cuda
