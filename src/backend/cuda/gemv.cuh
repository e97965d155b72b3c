// out[M, N] = x[M, K] W[N, K]^T (+ bias[N]) for decode-sized M (at most kGemvMaxRows):
// a memory-bound kernel that streams each weight row once with 16-byte loads, two rows
// per warp, all M tokens at a time, FP32 accumulation in a fixed order.
#pragma once

#include <cuda_runtime.h>

#include "backend/cuda/cublaslt_gemm.h"

namespace tern::cuda {

constexpr int kGemvMaxRows = 8;

// True when launch_gemv takes the problem: 1 <= m <= kGemvMaxRows, k a multiple of 8,
// x and w 16-byte aligned.
bool gemv_supports(const GemmProblem& p);
void launch_gemv(const GemmProblem& p, cudaStream_t stream);

}  // namespace tern::cuda
