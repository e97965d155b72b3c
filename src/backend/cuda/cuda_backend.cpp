// CudaBackend: construction and memory (device tensors, pinned staging memory, blocking
// and stream-ordered copies, the memory budget). Each op lives in its own .cu beside this
// file; graph capture in graph_capture.cpp.
#include "backend/cuda/cuda_backend.h"

#include <algorithm>

#include "backend/cuda/common.cuh"
#include "backend/cuda/w4a16_gemm.cuh"
#include "backend/cuda_factory.h"
#include "tensor/convert.h"

namespace tern {

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options) {
  return std::make_unique<CudaBackend>(options);
}

CudaBackend::CudaBackend(const BackendOptions& options) : device_index_(options.device_index) {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0)
    throw error("backend 'cuda': no usable GPU (", status == cudaSuccess ? "no devices" : cudaGetErrorString(status),
                ")");
  if (device_index_ < 0 || device_index_ >= count)
    throw error("backend 'cuda': device ", device_index_, " does not exist (", count, " GPUs)");
  use_device();
  cudaDeviceProp props{};
  CUDA_CHECK(cudaGetDeviceProperties(&props, device_index_));
  if (props.major < 8)
    throw error("backend 'cuda': ", props.name, " has compute capability ", props.major, ".", props.minor,
                "; tern needs 8.0 or newer (BF16 tensor cores)");
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  gemm_ = std::make_unique<cuda::CublasLtGemm>();
  fp8_gemm_ = std::make_unique<cuda::CublasLtFp8Gemm>(*gemm_);
  if (cuda::w4a16_supported(device_index_)) w4a16_ = cuda::w4a16_device();
}

CudaBackend::~CudaBackend() {
  cudaSetDevice(device_index_);
  if (stream_) cudaStreamSynchronize(stream_);
  fp8_gemm_.reset();
  gemm_.reset();
  if (stream_) cudaStreamDestroy(stream_);
}

void CudaBackend::use_device() const {
  int current = -1;
  CUDA_CHECK(cudaGetDevice(&current));
  if (current != device_index_) CUDA_CHECK(cudaSetDevice(device_index_));
}

Tensor CudaBackend::alloc(DType dtype, std::initializer_list<int64_t> shape) {
  use_device();
  Tensor t = make_view(nullptr, dtype, Device::kCuda, shape);
  // Never a null pointer, even for zero elements: empty() means "no tensor".
  const size_t bytes = std::max<size_t>(t.nbytes(), 256);
  t.data = cuda::device_malloc(bytes, ("a " + std::string(dtype_name(dtype)) + " tensor " + t.shape_str()).c_str());
  const int device = device_index_;
  t.owner = std::shared_ptr<void>(t.data, [device](void* p) {
    cudaSetDevice(device);
    cudaFree(p);
  });
  return t;
}

Tensor CudaBackend::upload(const Tensor& host, DType dtype) {
  if (host.device != Device::kCpu) throw error("cuda upload: the source tensor must be on the host");
  const bool convert = host.dtype != dtype;
  if (convert && !(is_float_dtype(host.dtype) && is_float_dtype(dtype)))
    throw error("cuda upload: cannot convert ", dtype_name(host.dtype), " to ", dtype_name(dtype),
                " (float types convert among themselves; integer types must match)");
  Tensor out = alloc(dtype, {host.numel()});
  out.ndim = host.ndim;
  out.shape = host.shape;
  // Converted on the host (the conversion the CPU backend uses), then copied once.
  const Tensor source = convert ? convert_host(host, dtype) : host;
  copy_from_host(out, source.data);
  return out;
}

void CudaBackend::copy_to_host(const Tensor& src, void* dst) {
  if (src.device != Device::kCuda) throw error("cuda copy_to_host: the source must be a CUDA tensor");
  use_device();
  CUDA_CHECK(cudaMemcpyAsync(dst, src.data, src.nbytes(), cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::copy_from_host(const Tensor& dst, const void* src) {
  if (dst.device != Device::kCuda) throw error("cuda copy_from_host: the destination must be a CUDA tensor");
  use_device();
  CUDA_CHECK(cudaMemcpyAsync(dst.data, src, dst.nbytes(), cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::fill_zero(const Tensor& dst) {
  if (dst.device != Device::kCuda) throw error("cuda fill_zero: the destination must be a CUDA tensor");
  use_device();
  CUDA_CHECK(cudaMemsetAsync(dst.data, 0, dst.nbytes(), stream_));
}

void CudaBackend::synchronize() {
  use_device();
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

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

}  // namespace tern
