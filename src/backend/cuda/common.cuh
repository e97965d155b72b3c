// Shared by every CUDA op: error checks that print the call, the value, file and line;
// operand checks that name the op; and small device helpers for bf16 data.
#pragma once

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

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

// Programmatic dependent launch (sm_90 and later): a kernel launched with `launch` may be
// scheduled while the kernel before it on the stream is still running, so the next
// projection's weights are already on their way when its input is ready. Every kernel
// launched this way calls pdl_trigger() and then pdl_wait() before it reads anything an
// earlier kernel wrote or writes anything an earlier kernel reads, in every block (a grid
// that finishes without waiting would let its successor overtake its predecessor). Between
// the two it may read only what no kernel writes: weights. TERN_PDL=0 turns it off (to
// measure it); GPUs before sm_90 launch normally.
bool pdl_enabled();

__device__ __forceinline__ void pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// Both at once, for kernels that read nothing before their input.
__device__ __forceinline__ void pdl_start() {
  pdl_trigger();
  pdl_wait();
}

// Brings the 128-byte line at `p` into L2 without waiting for it.
__device__ __forceinline__ void prefetch_l2(const void* p) { asm volatile("prefetch.global.L2 [%0];\n" ::"l"(p)); }

template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
            Args&&... args) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = pdl_enabled() ? 1 : 0;
  const cudaError_t status = cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
  if (status != cudaSuccess) [[unlikely]]
    throw_cuda_error(status, "cudaLaunchKernelEx", __FILE__, __LINE__);
}

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
