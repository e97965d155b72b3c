#include <cstring>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/op_support.h"

namespace tern {

void CpuBackend::gather_rows(const Tensor& x, const Tensor& indices, const Tensor& out) {
  cpu::expect(indices, DType::kI32, "gather_rows", "indices");
  TERN_CHECK(x.dtype == out.dtype && x.cols() == out.cols() && out.rows() == indices.numel(), "gather_rows ",
             x.shape_str(), " -> ", out.shape_str());
  const size_t row_bytes = size_t(x.cols()) * dtype_size(x.dtype);
  for (int64_t i = 0; i < indices.numel(); ++i) {
    int32_t r = indices.ptr<const int32_t>()[i];
    TERN_CHECK(r >= 0 && r < x.rows(), "gather_rows index ", r, " of ", x.rows());
    std::memcpy(static_cast<char*>(out.data) + i * row_bytes, static_cast<const char*>(x.data) + r * row_bytes,
                row_bytes);
  }
}

}  // namespace tern
