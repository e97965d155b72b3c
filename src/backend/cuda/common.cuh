// Shared by every CUDA op: error checks that print the call, the value, file and line;
// operand checks that name the op; and small device helpers for bf16 data.
#pragma once

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "base/error.h"
#include "tensor/tensor.h"

namespace tern::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line);

// Throws tern::Error unless t is a CUDA tensor of the given dtype.
void expect(const Tensor& t, DType dtype, const char* op, const char* operand);
// Throws unless t is a CUDA tensor with exactly the given shape.
void expect_shape(const Tensor& t, std::initializer_list<int64_t> shape, const char* op, const char* operand);
// Throws unless t's 2-D view (Tensor::rows, Tensor::cols) is [rows, cols].
void expect_matrix(const Tensor& t, int64_t rows, int64_t cols, const char* op, const char* operand);

inline unsigned ceil_div(int64_t a, int64_t b) { return unsigned((a + b - 1) / b); }

}  // namespace tern::cuda

#define CUDA_CHECK(call)                                                            \
  do {                                                                              \
    cudaError_t tern_cuda_status_ = (call);                                         \
    if (tern_cuda_status_ != cudaSuccess) [[unlikely]]                              \
      ::tern::cuda::throw_cuda_error(tern_cuda_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define CUBLAS_CHECK(call)                                                              \
  do {                                                                                  \
    cublasStatus_t tern_cublas_status_ = (call);                                        \
    if (tern_cublas_status_ != CUBLAS_STATUS_SUCCESS) [[unlikely]]                      \
      ::tern::cuda::throw_cublas_error(tern_cublas_status_, #call, __FILE__, __LINE__); \
  } while (0)

// After every kernel launch: a bad configuration shows up here, not at the next sync.
#define CUDA_LAUNCH_CHECK() CUDA_CHECK(cudaGetLastError())
