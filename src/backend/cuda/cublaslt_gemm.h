// out[M, N] = x[M, K] W[N, K]^T (+ bias[N]) through cuBLASLt: BF16 inputs, F32
// accumulation, BF16 or F32 output, the bias added in the epilogue. One plan (layouts,
// descriptor and the heuristic's algorithm) is built per distinct problem and reused, so
// a call after the first does no host work beyond setting the bias pointer.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <tuple>

#include "tensor/dtype.h"

namespace tern::cuda {

struct GemmProblem {
  int64_t m = 0, n = 0, k = 0;
  const void* x = nullptr;     // [m, k] BF16, row-major
  const void* w = nullptr;     // [n, k] BF16, row-major
  const void* bias = nullptr;  // [n] of out_dtype, or null
  void* out = nullptr;         // [m, n] of out_dtype, row-major
  DType out_dtype = DType::kBF16;
};

// The alignment cuBLASLt may assume for a pointer: its largest power-of-two divisor, at
// most 256 (a null pointer counts as 256).
int alignment_of(const void* p);

class CublasLtGemm {
 public:
  CublasLtGemm();
  ~CublasLtGemm();
  CublasLtGemm(const CublasLtGemm&) = delete;
  CublasLtGemm& operator=(const CublasLtGemm&) = delete;

  // Enqueues the product on `stream`. Throws tern::Error naming the shape if cuBLASLt
  // offers no algorithm for it.
  void run(const GemmProblem& p, cudaStream_t stream);

  // The handle and workspace, which the FP8 GEMM (cublaslt_fp8_gemm.h) shares: both run on
  // the backend's one stream, never at once.
  cublasLtHandle_t handle() const { return handle_; }
  void* workspace() const { return workspace_; }
  size_t workspace_bytes() const { return workspace_bytes_; }

 private:
  // Everything the algorithm choice depends on: the shape, the types, and how the
  // pointers are aligned (cuBLASLt assumes 256-byte alignment unless told).
  using Key = std::tuple<int64_t, int64_t, int64_t, DType, bool, int, int, int>;
  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t w_layout = nullptr, x_layout = nullptr, out_layout = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  Plan& plan_for(const GemmProblem& p);

  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  std::map<Key, Plan> plans_;
};

}  // namespace tern::cuda
