#include "backend/cuda/common.cuh"

#include <cstdlib>
#include <cstring>

namespace tern::cuda {

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  throw error("CUDA error ", int(status), " (", cudaGetErrorName(status), ": ", cudaGetErrorString(status), ") in ",
              call, " at ", file, ":", line);
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw error("cuBLAS error ", int(status), " (", cublasLtGetStatusName(status), ": ", cublasLtGetStatusString(status),
              ") in ", call, " at ", file, ":", line);
}

bool pdl_enabled() {
  static const bool allowed = [] {
    const char* v = std::getenv("TERN_PDL");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  if (!allowed) return false;
  int device = 0, major = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  return major >= 9;
}

void expect(const Tensor& t, DType dtype, const char* op, const char* operand) {
  if (t.device != Device::kCuda || t.dtype != dtype || t.empty())
    throw error("cuda ", op, ": ", operand, " must be a CUDA ", dtype_name(dtype), " tensor, got ",
                t.empty() ? "an empty tensor" : std::string(dtype_name(t.dtype)),
                t.device == Device::kCuda ? "" : " on the host");
}

void expect_shape(const Tensor& t, std::initializer_list<int64_t> shape, const char* op, const char* operand) {
  bool same = t.ndim == int(shape.size());
  int i = 0;
  for (int64_t d : shape) same = same && t.shape[i++] == d;
  if (!same) {
    Tensor want = make_view(nullptr, t.dtype, t.device, shape);
    throw error("cuda ", op, ": ", operand, " has shape ", t.shape_str(), ", expected ", want.shape_str());
  }
}

void expect_matrix(const Tensor& t, int64_t rows, int64_t cols, const char* op, const char* operand) {
  if (t.rows() != rows || t.cols() != cols)
    throw error("cuda ", op, ": ", operand, " has shape ", t.shape_str(), ", expected ", rows, " rows of ", cols);
}

}  // namespace tern::cuda
