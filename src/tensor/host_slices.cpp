#include "tensor/host_slices.h"

#include <cstring>

#include "base/error.h"

namespace tern {

Tensor copy_columns(const Tensor& host, int64_t begin, int64_t end) {
  TERN_CHECK(host.device == Device::kCpu, "copy_columns takes a host tensor");
  const int64_t rows = host.rows(), cols = host.cols(), count = end - begin;
  TERN_CHECK(0 <= begin && begin < end && end <= cols, "columns [", begin, ", ", end, ") of ", host.shape_str());
  const size_t elem = dtype_size(host.dtype);
  Tensor out = host_tensor(host.dtype, {rows, count});
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(out.ptr<char>() + size_t(r * count) * elem, host.ptr<const char>() + size_t(r * cols + begin) * elem,
                size_t(count) * elem);
  return out;
}

Tensor copy_rows_padded(const Tensor& host, int64_t begin, int64_t end, int64_t rows) {
  TERN_CHECK(host.device == Device::kCpu, "copy_rows_padded takes a host tensor");
  const Tensor part = host.slice_rows(begin, end);
  TERN_CHECK(rows >= end - begin, rows, " rows cannot hold rows [", begin, ", ", end, ")");
  Tensor out = host.ndim <= 1 ? host_tensor(host.dtype, {rows}) : host_tensor(host.dtype, {rows, host.cols()});
  std::memcpy(out.data, part.data, part.nbytes());
  std::memset(out.ptr<char>() + part.nbytes(), 0, out.nbytes() - part.nbytes());
  return out;
}

}  // namespace tern
