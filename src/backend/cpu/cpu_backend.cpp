// CpuBackend: memory. The ops live in one file each beside this one.
#include "backend/cpu/cpu_backend.h"

#include <cstring>

#include "base/error.h"
#include "base/thread_pool.h"
#include "tensor/convert.h"

namespace tern {

CpuBackend::CpuBackend(int num_threads) {
  TERN_CHECK(num_threads >= 0, "cpu backend: ", num_threads, " worker threads");
  ThreadPool::global().resize(num_threads > 0 ? num_threads : ThreadPool::default_global_size());
}

int CpuBackend::num_threads() const { return ThreadPool::global().num_threads(); }

Tensor CpuBackend::alloc(DType dtype, std::initializer_list<int64_t> shape) { return host_tensor(dtype, shape); }

Tensor CpuBackend::upload(const Tensor& host, DType dtype) {
  TERN_CHECK(host.device == Device::kCpu, "upload takes a host tensor");
  if (host.dtype == dtype) return host;  // zero-copy: a view of the mapped file
  return convert_host(host, dtype);
}

void CpuBackend::copy_to_host(const Tensor& src, void* dst) { std::memcpy(dst, src.data, src.nbytes()); }
void CpuBackend::copy_from_host(const Tensor& dst, const void* src) { std::memcpy(dst.data, src, dst.nbytes()); }
void CpuBackend::fill_zero(const Tensor& dst) { std::memset(dst.data, 0, dst.nbytes()); }

}  // namespace tern
