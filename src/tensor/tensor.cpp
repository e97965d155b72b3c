#include "tensor/tensor.h"

#include <cstdlib>
#include <sstream>

#include "base/error.h"

namespace tern {

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= shape[i];
  return n;
}

std::string Tensor::shape_str() const {
  std::ostringstream os;
  os << "[";
  for (int i = 0; i < ndim; ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

Tensor Tensor::slice_rows(int64_t begin, int64_t end) const {
  // A 1-D tensor is a column of rows of one element.
  const int64_t n = ndim <= 1 ? numel() : rows();
  const int64_t c = ndim <= 1 ? 1 : cols();
  TERN_CHECK(begin >= 0 && begin <= end && end <= n, "rows ", begin, "..", end, " of ", shape_str());
  Tensor t = *this;
  t.data = static_cast<char*>(data) + size_t(begin * c) * dtype_size(dtype);
  if (ndim <= 1) {
    t.ndim = 1;
    t.shape = {end - begin};
  } else {
    t.ndim = 2;
    t.shape = {end - begin, c};
  }
  return t;
}

Tensor Tensor::reshape(std::initializer_list<int64_t> new_shape) const {
  TERN_CHECK(new_shape.size() <= 4);
  Tensor t = *this;
  t.ndim = int(new_shape.size());
  int i = 0;
  for (int64_t d : new_shape) t.shape[i++] = d;
  TERN_CHECK(t.numel() == numel(), "reshape ", shape_str(), " to ", t.shape_str());
  return t;
}

Tensor make_view(void* data, DType dtype, Device device, std::initializer_list<int64_t> shape) {
  TERN_CHECK(shape.size() <= 4);
  Tensor t;
  t.data = data;
  t.dtype = dtype;
  t.device = device;
  t.ndim = int(shape.size());
  int i = 0;
  for (int64_t d : shape) t.shape[i++] = d;
  return t;
}

Tensor host_tensor(DType dtype, std::initializer_list<int64_t> shape) {
  Tensor t = make_view(nullptr, dtype, Device::kCpu, shape);
  size_t bytes = (t.nbytes() + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
  if (!p) throw error("out of host memory allocating ", bytes, " bytes for a tensor ", t.shape_str());
  t.data = p;
  t.owner = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  return t;
}

}  // namespace tern
