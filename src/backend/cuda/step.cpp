// CudaBackend: what the runner needs around the ops of a step: pinned staging memory,
// copies ordered on the op stream, graph capture and replay, and the memory budget.
#include <cuda_runtime.h>

#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_backend.h"

namespace tern {
namespace {

class CudaGraph final : public CapturedGraph {
 public:
  CudaGraph(cudaGraphExec_t exec, cudaStream_t stream) : exec_(exec), stream_(stream) {}
  ~CudaGraph() override { cudaGraphExecDestroy(exec_); }
  void replay() override { CUDA_CHECK(cudaGraphLaunch(exec_, stream_)); }

 private:
  cudaGraphExec_t exec_;
  cudaStream_t stream_;
};

}  // namespace

Tensor CudaBackend::alloc_staging(DType dtype, std::initializer_list<int64_t> shape) {
  use_device();
  Tensor t = make_view(nullptr, dtype, Device::kCpu, shape);
  CUDA_CHECK(cudaMallocHost(&t.data, std::max<size_t>(t.nbytes(), 64)));
  t.owner = std::shared_ptr<void>(t.data, [](void* p) { cudaFreeHost(p); });
  return t;
}

void CudaBackend::copy_from_host_async(const Tensor& dst, const void* src) {
  use_device();
  CUDA_CHECK(cudaMemcpyAsync(dst.data, src, dst.nbytes(), cudaMemcpyHostToDevice, stream_));
}

void CudaBackend::copy_to_host_async(const Tensor& src, void* dst) {
  use_device();
  CUDA_CHECK(cudaMemcpyAsync(dst, src.data, src.nbytes(), cudaMemcpyDeviceToHost, stream_));
}

MemoryInfo CudaBackend::memory_info() const {
  use_device();
  MemoryInfo info;
  CUDA_CHECK(cudaMemGetInfo(&info.free_bytes, &info.total_bytes));
  return info;
}

std::unique_ptr<CapturedGraph> CudaBackend::capture(const std::function<void()>& record) {
  use_device();
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  try {
    record();
  } catch (...) {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(stream_, &broken);
    if (broken) cudaGraphDestroy(broken);
    throw;
  }
  cudaGraph_t graph = nullptr;
  CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
  cudaGraphExec_t exec = nullptr;
  cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  CUDA_CHECK(status);
  return std::make_unique<CudaGraph>(exec, stream_);
}

}  // namespace tern
