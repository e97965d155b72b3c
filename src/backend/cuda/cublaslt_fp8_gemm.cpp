#include "backend/cuda/cublaslt_fp8_gemm.h"

#include "backend/cuda/common.cuh"

namespace tern::cuda {
namespace {

void destroy(cublasLtMatmulDesc_t desc, std::initializer_list<cublasLtMatrixLayout_t> layouts) {
  for (cublasLtMatrixLayout_t layout : layouts)
    if (layout) cublasLtMatrixLayoutDestroy(layout);
  if (desc) cublasLtMatmulDescDestroy(desc);
}

template <typename T>
void set(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attribute, const T& value) {
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, attribute, &value, sizeof(value)));
}

// The scale pointers change from layer to layer; the plan keeps everything else.
void set_scales(cublasLtMatmulDesc_t desc, const Fp8GemmProblem& p) {
  const void* a_scales = p.w_scales;
  const void* b_scales = p.x_scales;
  set(desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, a_scales);
  set(desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, b_scales);
}

}  // namespace

CublasLtFp8Gemm::~CublasLtFp8Gemm() {
  for (auto& [key, plan] : plans_) destroy(plan.desc, {plan.w_layout, plan.x_layout, plan.out_layout});
}

CublasLtFp8Gemm::Plan& CublasLtFp8Gemm::plan_for(const Fp8GemmProblem& p) {
  const int align_x = alignment_of(p.x), align_w = alignment_of(p.w), align_out = alignment_of(p.out);
  const Key key{p.m, p.n, p.k, p.out_dtype, p.bias != nullptr, p.scaling, align_x, align_w, align_out};
  auto found = plans_.find(key);
  if (found != plans_.end()) return found->second;

  Plan plan;
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  set(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T);
  set(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
  const bool blocks = p.scaling == Fp8GemmScaling::kBlocks128;
  const int32_t a_mode =
      blocks ? CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F : CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
  const int32_t b_mode = blocks ? CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F : CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
  set(plan.desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, a_mode);
  set(plan.desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, b_mode);
  set_scales(plan.desc, p);
  if (p.bias) {
    set(plan.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, CUBLASLT_EPILOGUE_BIAS);
    set(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, p.bias);
  }
  const cudaDataType_t out_type = p.out_dtype == DType::kF32 ? CUDA_R_32F : CUDA_R_16BF;
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.w_layout, CUDA_R_8F_E4M3, uint64_t(p.k), uint64_t(p.n), p.k));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.x_layout, CUDA_R_8F_E4M3, uint64_t(p.k), uint64_t(p.m), p.k));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.out_layout, out_type, uint64_t(p.n), uint64_t(p.m), p.n));

  cublasLtMatmulPreference_t pref = nullptr;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  const size_t workspace_bytes = shared_.workspace_bytes();
  const uint32_t a_align = uint32_t(align_w), b_align = uint32_t(align_x), d_align = uint32_t(align_out);
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes,
                                       sizeof(workspace_bytes));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &a_align, sizeof(a_align));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &b_align, sizeof(b_align));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &d_align, sizeof(d_align));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &d_align, sizeof(d_align));
  cublasLtMatmulHeuristicResult_t result{};
  int found_count = 0;
  // An unsupported combination (GPU, scale modes, shape) answers NOT_SUPPORTED or no
  // algorithm; either way the plan records it and the caller takes another path.
  const cublasStatus_t status =
      cublasLtMatmulAlgoGetHeuristic(shared_.handle(), plan.desc, plan.w_layout, plan.x_layout, plan.out_layout,
                                     plan.out_layout, pref, 1, &result, &found_count);
  cublasLtMatmulPreferenceDestroy(pref);
  plan.found = status == CUBLAS_STATUS_SUCCESS && found_count > 0;
  if (plan.found) {
    plan.algo = result.algo;
  } else {
    destroy(plan.desc, {plan.w_layout, plan.x_layout, plan.out_layout});
    plan = Plan{};
  }
  return plans_.emplace(key, plan).first->second;
}

bool CublasLtFp8Gemm::supports(const Fp8GemmProblem& p) { return plan_for(p).found; }

void CublasLtFp8Gemm::run(const Fp8GemmProblem& p, cudaStream_t stream) {
  Plan& plan = plan_for(p);
  if (!plan.found)
    throw error("cuda linear: cuBLASLt has no FP8 algorithm for x [", p.m, ", ", p.k, "] times weight [", p.n, ", ",
                p.k, "] into ", dtype_name(p.out_dtype), " with ",
                p.scaling == Fp8GemmScaling::kBlocks128 ? "128x128 block" : "channel", " scales");
  set_scales(plan.desc, p);
  if (p.bias) set(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, p.bias);
  const float alpha = 1.0f, beta = 0.0f;
  CUBLAS_CHECK(cublasLtMatmul(shared_.handle(), plan.desc, &alpha, p.w, plan.w_layout, p.x, plan.x_layout, &beta, p.out,
                              plan.out_layout, p.out, plan.out_layout, &plan.algo, shared_.workspace(),
                              shared_.workspace_bytes(), stream));
}

}  // namespace tern::cuda
