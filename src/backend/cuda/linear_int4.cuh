// The INT4 helpers behind CudaBackend::linear besides the W4A16 GEMM (w4a16_gemm.cuh):
// the activation gather of act-order weights, and on GPUs before sm_90, which have no
// wgmma, a dequantiser to BF16 for cuBLASLt.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/dtype.h"

namespace tern::cuda {

struct Int4Problem {
  int64_t n = 0, k = 0;
  const void* tiles = nullptr;     // [n * k / 2] bytes in the kMmaTiles layout (int4_tiles.h)
  const int32_t* words = nullptr;  // [n / 16][groups][16] scale and zero words
  int64_t group_size = 0;
  int64_t num_groups = 0;
};

// W as BF16 [n, k] row-major, in the tiles' (permuted) column order, into `out`.
void launch_int4_dequantize(const Int4Problem& p, void* out, cudaStream_t stream);
// out[i, c] = x[i, order[c]] for x, out [m, k] BF16.
void launch_gather_columns(const void* x, const int32_t* order, int64_t m, int64_t k, void* out, cudaStream_t stream);

}  // namespace tern::cuda
