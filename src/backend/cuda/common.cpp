#include "backend/cuda/common.cuh"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "backend/backend.h"

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

bool expect_kv_cache(const KvCacheLayer& cache, const char* op) {
  const bool fp8 = cache.k.dtype == DType::kF8E4M3;
  expect(cache.k, fp8 ? DType::kF8E4M3 : DType::kBF16, op, "k cache");
  expect(cache.v, cache.k.dtype, op, "v cache");
  const auto valid = [](float scale) { return std::isfinite(scale) && scale > 0.0f; };
  if (fp8 && !(valid(cache.k_scale) && valid(cache.v_scale)))
    throw error("cuda ", op, ": FP8 KV cache scales must be finite and positive, got k_scale ", cache.k_scale,
                " and v_scale ", cache.v_scale);
  return fp8;
}

}  // namespace tern::cuda
