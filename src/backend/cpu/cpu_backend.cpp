// CpuBackend: memory. The ops live in one file each beside this one.
#include "backend/cpu/cpu_backend.h"

#include <cstring>

#include "backend/cpu/widen.h"
#include "base/thread_pool.h"

namespace tern {

CpuBackend::CpuBackend(int num_threads) {
  // The pool is process-wide; its size comes from TERN_NUM_THREADS or the core count.
  (void)num_threads;
  ThreadPool::global();
}

Tensor CpuBackend::alloc(DType dtype, std::initializer_list<int64_t> shape) { return host_tensor(dtype, shape); }

Tensor CpuBackend::upload(const Tensor& host, DType dtype) {
  TERN_CHECK(host.device == Device::kCpu, "upload takes a host tensor");
  if (host.dtype == dtype) return host;  // zero-copy: a view of the mapped file
  bool floats = dtype == DType::kF32 || dtype == DType::kBF16 || dtype == DType::kF16;
  if (!floats) throw error("cpu upload: cannot convert ", dtype_name(host.dtype), " to ", dtype_name(dtype));
  Tensor out = host;
  out.owner.reset();
  Tensor fresh = host_tensor(dtype, {host.numel()});
  out.data = fresh.data;
  out.owner = fresh.owner;
  out.dtype = dtype;
  const int64_t n = host.numel();
  std::vector<float> row(std::min<int64_t>(n, 1 << 16));
  for (int64_t begin = 0; begin < n; begin += int64_t(row.size())) {
    int64_t len = std::min<int64_t>(n - begin, int64_t(row.size()));
    cpu::widen(host, begin, len, row.data());
    for (int64_t i = 0; i < len; ++i) {
      if (dtype == DType::kF32) out.ptr<float>()[begin + i] = row[i];
      else if (dtype == DType::kBF16) out.ptr<uint16_t>()[begin + i] = f32_to_bf16(row[i]);
      else out.ptr<uint16_t>()[begin + i] = f32_to_f16(row[i]);
    }
  }
  return out;
}

void CpuBackend::copy_to_host(const Tensor& src, void* dst) { std::memcpy(dst, src.data, src.nbytes()); }
void CpuBackend::copy_from_host(const Tensor& dst, const void* src) { std::memcpy(dst.data, src, dst.nbytes()); }
void CpuBackend::fill_zero(const Tensor& dst) { std::memset(dst.data, 0, dst.nbytes()); }

}  // namespace tern
