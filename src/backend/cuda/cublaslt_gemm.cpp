#include "backend/cuda/cublaslt_gemm.h"

#include <bit>

#include "backend/cuda/common.cuh"
#include "backend/cuda/workspace.h"

namespace tern::cuda {
namespace {

// cuBLAS's advice for Hopper: 32 MiB lets every algorithm run.
constexpr size_t kWorkspaceBytes = size_t(32) << 20;

cudaDataType_t cuda_type(DType t) { return t == DType::kF32 ? CUDA_R_32F : CUDA_R_16BF; }

}  // namespace

int alignment_of(const void* p) {
  auto address = reinterpret_cast<uintptr_t>(p);
  if (address == 0) return 256;
  return int(std::min<uintptr_t>(256, uintptr_t(1) << std::countr_zero(address)));
}

CublasLtGemm::CublasLtGemm() {
  CUBLAS_CHECK(cublasLtCreate(&handle_));
  workspace_ = device_malloc(kWorkspaceBytes, "cuBLASLt workspace");
  workspace_bytes_ = kWorkspaceBytes;
}

CublasLtGemm::~CublasLtGemm() {
  for (auto& [key, plan] : plans_) {
    cublasLtMatrixLayoutDestroy(plan.w_layout);
    cublasLtMatrixLayoutDestroy(plan.x_layout);
    cublasLtMatrixLayoutDestroy(plan.out_layout);
    cublasLtMatmulDescDestroy(plan.desc);
  }
  cudaFree(workspace_);
  cublasLtDestroy(handle_);
}

CublasLtGemm::Plan& CublasLtGemm::plan_for(const GemmProblem& p) {
  const int align_x = alignment_of(p.x), align_w = alignment_of(p.w), align_out = alignment_of(p.out);
  Key key{p.m, p.n, p.k, p.out_dtype, p.bias != nullptr, align_x, align_w, align_out};
  auto found = plans_.find(key);
  if (found != plans_.end()) return found->second;

  // cuBLASLt is column-major. Row-major out[M, N] is column-major out^T [N, M], which is
  // W (column-major [K, N], transposed) times x^T (column-major [K, M]).
  Plan plan;
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  cublasOperation_t transpose = CUBLAS_OP_T, keep = CUBLAS_OP_N;
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof(transpose)));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, &keep, sizeof(keep)));
  if (p.bias) {
    cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &p.bias, sizeof(p.bias)));
  }
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.w_layout, CUDA_R_16BF, uint64_t(p.k), uint64_t(p.n), p.k));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.x_layout, CUDA_R_16BF, uint64_t(p.k), uint64_t(p.m), p.k));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.out_layout, cuda_type(p.out_dtype), uint64_t(p.n), uint64_t(p.m), p.n));

  cublasLtMatmulPreference_t pref = nullptr;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  uint32_t a_align = uint32_t(align_w), b_align = uint32_t(align_x), d_align = uint32_t(align_out);
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes_,
                                                    sizeof(workspace_bytes_)));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &a_align,
                                                    sizeof(a_align)));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &b_align,
                                                    sizeof(b_align)));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &d_align,
                                                    sizeof(d_align)));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &d_align,
                                                    sizeof(d_align)));
  cublasLtMatmulHeuristicResult_t result{};
  int found_count = 0;
  cublasStatus_t status =
      cublasLtMatmulAlgoGetHeuristic(handle_, plan.desc, plan.w_layout, plan.x_layout, plan.out_layout, plan.out_layout,
                                     pref, 1, &result, &found_count);
  cublasLtMatmulPreferenceDestroy(pref);
  if (status != CUBLAS_STATUS_SUCCESS || found_count == 0) {
    cublasLtMatrixLayoutDestroy(plan.w_layout);
    cublasLtMatrixLayoutDestroy(plan.x_layout);
    cublasLtMatrixLayoutDestroy(plan.out_layout);
    cublasLtMatmulDescDestroy(plan.desc);
    throw error("cuda linear: cuBLASLt has no algorithm for x [", p.m, ", ", p.k, "] times weight [", p.n, ", ", p.k,
                "] into ", dtype_name(p.out_dtype), p.bias ? " with bias" : "", " (status ",
                cublasLtGetStatusName(status), ")");
  }
  plan.algo = result.algo;
  return plans_.emplace(key, plan).first->second;
}

void CublasLtGemm::run(const GemmProblem& p, cudaStream_t stream) {
  Plan& plan = plan_for(p);
  if (p.bias)
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &p.bias, sizeof(p.bias)));
  const float alpha = 1.0f, beta = 0.0f;
  CUBLAS_CHECK(cublasLtMatmul(handle_, plan.desc, &alpha, p.w, plan.w_layout, p.x, plan.x_layout, &beta, p.out,
                              plan.out_layout, p.out, plan.out_layout, &plan.algo, workspace_, workspace_bytes_,
                              stream));
}

}  // namespace tern::cuda
