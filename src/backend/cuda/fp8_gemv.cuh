// out[M, N] = x'[M, K] W'[N, K]^T (+ bias[N]) for FP8 weights, on CUDA cores: x' are the
// e4m3 activation codes of fp8_quantize.cuh times their scales, W' the e4m3 weights times
// their channel or block scales. A bandwidth-bound kernel for decode: each warp streams
// four weight rows with 16-byte loads (cache-streaming), converts e4m3 pairs in registers
// (cvt.f16x2.e4m3x2, exact) and multiplies every weight chunk against up to 16 tokens,
// so a weight byte is read once for all of them; F32 products and sums, in a fixed order.
// Where the weight and activation scales are constant along a row (channel weights with
// per-token or static activations) they multiply the finished sums; otherwise each 16-column
// chunk's sums, which lie inside one scale group or block.
//
// Any M (tiles of 16 tokens in grid.y, each reading the weights again) and any shape: a
// K that is not a multiple of 16, or groups or blocks that 16-column chunks would straddle,
// take a byte-at-a-time variant of the same kernel. linear uses it for M <= kFp8GemvMaxRows
// and for the products cuBLASLt's FP8 GEMM cannot take (linear_fp8.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/dtype.h"

namespace tern::cuda {

// Measured on an H100 (ef4ba8e, 2026-12-08, backend_ops_bench fp8 group, Qwen2.5-7B
// shapes, channel scales): at M = 1 the GEMV takes 10.7 / 9.9 / 47.8 / 34.6 us for qkv / o /
// gate_up / down against cuBLASLt's 17.1 / 15.1 / 65.9 / 59.1; at M = 16 it takes 47.9 /
// 28.8 / 222.3 / 104.1 against 16.5 / 15.1 / 65.2 / 57.0. Its time grows about linearly
// with M, crossing cuBLASLt's near M = 2.5 to 6: the GEMV keeps M <= 2.
constexpr int kFp8GemvMaxRows = 2;

struct Fp8GemvProblem {
  int64_t m = 0, n = 0, k = 0;
  const void* xq = nullptr;         // [m, k] e4m3 codes
  const float* x_scales = nullptr;  // [ceil(k / x_slot_cols), m] (fp8_quantize.cuh's slots)
  int64_t x_slot_cols = 0;          // columns per activation scale: k for one per token
  const void* w = nullptr;          // [n, k] e4m3, row-major
  const float* w_scales = nullptr;  // [n] (block_rows == 0), else [ceil(n / block_rows), w_scale_ld]
  int64_t block_rows = 0, block_cols = 0, w_scale_ld = 0;
  const void* bias = nullptr;  // [n] of out_dtype, or null
  void* out = nullptr;         // [m, n] of out_dtype, row-major
  DType out_dtype = DType::kBF16;
};

void launch_fp8_gemv(const Fp8GemvProblem& p, cudaStream_t stream);

}  // namespace tern::cuda
