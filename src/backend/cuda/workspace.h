// Device scratch memory that an op reuses from call to call. It grows only outside CUDA
// graph capture: capture cannot allocate, so the first call at the largest shape must
// come before capture (the runner's warm-up step does that).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace tern::cuda {

// Whether new memory is zeroed: kZeroed suits counters that kernels leave at zero.
enum class WorkspaceInit { kUninitialised, kZeroed };

class Workspace {
 public:
  explicit Workspace(const char* purpose, WorkspaceInit init = WorkspaceInit::kUninitialised)
      : purpose_(purpose), init_(init) {}
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  // At least `bytes` of device memory, valid until the next call. Growing waits for
  // `stream` (the old buffer may still be in use) and throws tern::Error while `stream`
  // is being captured into a graph.
  void* get(size_t bytes, cudaStream_t stream);

 private:
  const char* purpose_;
  WorkspaceInit init_;
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

// cudaMalloc that throws tern::Error with the size asked for and the memory free.
void* device_malloc(size_t bytes, const char* purpose);

}  // namespace tern::cuda
