// CudaBackend::linear: checks the operands, then runs the small-M GEMV (decode, gemv.cu) or
// the cuBLASLt product (cublaslt_gemm.cpp); INT4 weights go to linear_int4.cu, FP8 weights
// to linear_fp8.cu.
#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/gemv.cuh"

namespace tern {

void CudaBackend::linear(const Tensor& x, const LinearWeight& w, const Tensor& out) {
  if (w.is_int4()) return linear_int4(x, w, out);
  if (w.is_fp8()) return linear_fp8(x, w, out);
  const char* op = "linear";
  cuda::expect(x, DType::kBF16, op, "x");
  cuda::expect(w.weight, DType::kBF16, op, "weight");
  if (out.device != Device::kCuda || (out.dtype != DType::kBF16 && out.dtype != DType::kF32))
    throw error("cuda linear: out must be a CUDA BF16 or F32 tensor, got ", dtype_name(out.dtype));
  const int64_t m = x.rows(), k = x.cols(), n = w.out_features();
  if (w.weight.ndim != 2 || w.in_features() != k || out.rows() != m || out.cols() != n)
    throw error("cuda linear: x ", x.shape_str(), " times weight ", w.weight.shape_str(), " into out ",
                out.shape_str());
  if (!w.bias.empty()) {
    // cuBLASLt's bias epilogue reads the bias in the output's type.
    cuda::expect(w.bias, out.dtype, op, "bias (in the output's dtype)");
    cuda::expect_matrix(w.bias, 1, n, op, "bias");
  }
  if (m == 0) return;
  use_device();
  const cuda::GemmProblem problem{.m = m,
                                  .n = n,
                                  .k = k,
                                  .x = x.data,
                                  .w = w.weight.data,
                                  .bias = w.bias.empty() ? nullptr : w.bias.data,
                                  .out = out.data,
                                  .out_dtype = out.dtype};
  if (cuda::gemv_supports(problem))
    cuda::launch_gemv(problem, stream_);
  else
    gemm_->run(problem, stream_);
}

}  // namespace tern
