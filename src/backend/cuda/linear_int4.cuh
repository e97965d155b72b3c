// The W4A16 kernels behind CudaBackend::linear for INT4 weights in the kMmaTiles layout
// (int4_tiles.h): a tensor-core kernel that reads the 4-bit weights once for up to
// kInt4MmaMaxRows tokens (decode and small batches), a dequantiser to BF16 for the
// cuBLASLt path of larger batches (prefill), and the activation gather of act-order
// weights.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/dtype.h"

namespace tern::cuda {

// Up to this many rows of x (decode batches, small prefill chunks), linear runs the
// tensor-core W4A16 kernel, which reads each 4-bit weight once; beyond it, dequantise to
// BF16 + cuBLASLt. Measured on the H200 at Qwen2.5-7B shapes (docs/performance-history.md).
inline constexpr int kInt4MmaMaxRows = 32;

struct Int4Problem {
  int64_t m = 0, n = 0, k = 0;
  const void* x = nullptr;         // [m, k] BF16 (gathered by the act-order permutation, if any)
  const void* tiles = nullptr;     // [n * k / 2] bytes in the kMmaTiles layout
  const int32_t* words = nullptr;  // [n / 16][groups][16] scale and zero words
  int64_t group_size = 0;
  int64_t num_groups = 0;
  const void* bias = nullptr;  // [n] of out_dtype, or null
  void* out = nullptr;         // [m, n] of out_dtype
  DType out_dtype = DType::kBF16;
  // The tensor-core kernel splits K over blocks: F32 partial sums of
  // int4_mma_partials_bytes(n, k) bytes (sized for kInt4MmaMaxRows, so a workspace never
  // grows between a captured graph and a later eager call), and int4_mma_counters_bytes(n)
  // of counters that start at zero and are left at zero.
  float* partials = nullptr;
  int* counters = nullptr;
};

// out = x W^T (+ bias) on the tensor cores, for 1 <= m <= kInt4MmaMaxRows.
void launch_int4_mma(const Int4Problem& p, cudaStream_t stream);
size_t int4_mma_partials_bytes(int64_t n, int64_t k);
size_t int4_mma_counters_bytes(int64_t n);
// W as BF16 [n, k] row-major, in the tiles' (permuted) column order, into `out`.
void launch_int4_dequantize(const Int4Problem& p, void* out, cudaStream_t stream);
// out[i, c] = x[i, order[c]] for x, out [m, k] BF16.
void launch_gather_columns(const void* x, const int32_t* order, int64_t m, int64_t k, void* out, cudaStream_t stream);

}  // namespace tern::cuda
