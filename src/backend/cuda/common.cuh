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

namespace tern {
struct KvCacheLayer;
}

namespace tern::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line);

// Throws tern::Error unless t is a CUDA tensor of the given dtype.
void expect(const Tensor& t, DType dtype, const char* op, const char* operand);
// Throws unless t is a CUDA tensor with exactly the given shape.
void expect_shape(const Tensor& t, std::initializer_list<int64_t> shape, const char* op, const char* operand);
// Throws unless t's 2-D view (Tensor::rows, Tensor::cols) is [rows, cols].
void expect_matrix(const Tensor& t, int64_t rows, int64_t cols, const char* op, const char* operand);
// Throws unless the cache's K and V are both BF16, or both F8E4M3 with finite positive
// scales; returns whether they are FP8. Shapes are left to the op.
bool expect_kv_cache(const KvCacheLayer& cache, const char* op);

inline unsigned ceil_div(int64_t a, int64_t b) { return unsigned((a + b - 1) / b); }

// Every tern kernel starts with pdl_trigger(), which lets a kernel launched after it with
// launch_overlapping be scheduled at once, and pdl_wait() before it reads anything an
// earlier kernel wrote or writes anything an earlier kernel reads (in every block: a grid
// that finished without waiting would let its successor overtake its predecessor). For a
// kernel launched with `launch` the wait returns at once. Between the two a kernel may read
// only what no kernel writes: weights.
//
// launch_overlapping (programmatic dependent launch, sm_90 and later) is used for the INT4
// projection, whose 4-bit weights then start arriving while the kernel before it finishes:
// +5% batch-1 decode on the H200 (docs/performance-history.md). Launching every kernel that way
// made BF16 decode 5% slower, so the others use `launch`. TERN_PDL=0 turns it off; GPUs
// before sm_90 launch normally.
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

template <typename... Params, typename... Args>
void launch_with(bool overlap, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
                 cudaStream_t stream, Args&&... args) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = overlap && pdl_enabled() ? 1 : 0;
  const cudaError_t status = cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
  if (status != cudaSuccess) [[unlikely]]
    throw_cuda_error(status, "cudaLaunchKernelEx", __FILE__, __LINE__);
}

template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
            Args&&... args) {
  launch_with(false, kernel, grid, block, shared_bytes, stream, std::forward<Args>(args)...);
}

template <typename... Params, typename... Args>
void launch_overlapping(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
                        Args&&... args) {
  launch_with(true, kernel, grid, block, shared_bytes, stream, std::forward<Args>(args)...);
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
