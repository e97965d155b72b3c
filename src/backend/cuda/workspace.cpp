#include "backend/cuda/workspace.h"

#include "backend/cuda/common.cuh"

namespace tern::cuda {

void* device_malloc(size_t bytes, const char* purpose) {
  void* p = nullptr;
  cudaError_t status = cudaMalloc(&p, bytes);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // cudaMalloc also left the error as the last error; later launch checks must not see it
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    throw error("CUDA out of memory: ", purpose, " asked for ", bytes, " bytes (", bytes >> 20, " MiB); the GPU has ",
                free_bytes >> 20, " MiB free of ", total_bytes >> 20, " MiB");
  }
  CUDA_CHECK(status);
  return p;
}

Workspace::~Workspace() {
  if (data_) cudaFree(data_);
}

void* Workspace::get(size_t bytes, cudaStream_t stream) {
  if (bytes <= capacity_) return data_;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
  if (capture != cudaStreamCaptureStatusNone)
    throw error("cuda ", purpose_, ": the workspace must grow from ", capacity_, " to ", bytes,
                " bytes during CUDA graph capture; run this op once at its largest shape before capturing");
  CUDA_CHECK(cudaStreamSynchronize(stream));
  if (data_) CUDA_CHECK(cudaFree(data_));
  data_ = nullptr;
  capacity_ = 0;
  size_t grown = bytes + bytes / 4;  // headroom so slowly growing shapes do not reallocate every step
  data_ = device_malloc(grown, purpose_);
  capacity_ = grown;
  if (init_ == WorkspaceInit::kZeroed) CUDA_CHECK(cudaMemsetAsync(data_, 0, grown, stream));
  return data_;
}

}  // namespace tern::cuda
