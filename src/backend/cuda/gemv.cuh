// out[M, N] = x[M, K] W[N, K]^T (+ bias[N]) for M of 1 or 2 (batch-1/2 decode): a
// memory-bound kernel that streams each weight row once with 16-byte loads, two rows per
// warp, FP32 accumulation in a fixed order. Measured on an H100 (3d3756c) it beats cuBLASLt at M = 1
// (qkv 13.1 vs 14.2 us, gate_up 89 vs 97 us, lm_head 351 vs 380 us), ties at M = 2 and
// loses from M = 4 on (its conversions and FMAs become the limit), so linear uses it for
// M <= kGemvMaxRows only (docs/performance-history.md, "H100, 2026-11-25").
#pragma once

#include <cuda_runtime.h>

#include "backend/cuda/cublaslt_gemm.h"

namespace tern::cuda {

constexpr int kGemvMaxRows = 2;

// True when launch_gemv takes the problem: 1 <= m <= kGemvMaxRows, k a multiple of 8,
// x and w 16-byte aligned.
bool gemv_supports(const GemmProblem& p);
void launch_gemv(const GemmProblem& p, cudaStream_t stream);

}  // namespace tern::cuda
