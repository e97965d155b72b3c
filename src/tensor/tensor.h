// Tensor: a dense, row-major, contiguous array of up to 4 dimensions on one device.
// It is a cheap handle: copies share the same memory, and `owner` keeps that memory
// alive (empty for views into memory someone else owns, such as a mapped file).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

#include "tensor/dtype.h"

namespace tern {

enum class Device : uint8_t { kCpu, kCuda };

struct Tensor {
  void* data = nullptr;
  DType dtype = DType::kF32;
  Device device = Device::kCpu;
  int ndim = 0;
  std::array<int64_t, 4> shape{};
  std::shared_ptr<void> owner;

  bool empty() const { return data == nullptr; }
  int64_t numel() const;
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype); }
  int64_t dim(int i) const { return shape[i < 0 ? ndim + i : i]; }
  // Product of all dimensions but the last, and the last: the 2-D view ops work on.
  int64_t rows() const { return ndim == 0 ? 1 : numel() / shape[ndim - 1]; }
  int64_t cols() const { return ndim == 0 ? 1 : shape[ndim - 1]; }
  std::string shape_str() const;

  template <typename T>
  T* ptr() const {
    return static_cast<T*>(data);
  }

  // Rows [begin, end) of the 2-D view (elements of a 1-D tensor), sharing memory and owner.
  Tensor slice_rows(int64_t begin, int64_t end) const;
  // The same memory seen with another shape of the same element count.
  Tensor reshape(std::initializer_list<int64_t> new_shape) const;
};

// A tensor in new host memory (64-byte aligned), uninitialised.
Tensor host_tensor(DType dtype, std::initializer_list<int64_t> shape);
Tensor make_view(void* data, DType dtype, Device device, std::initializer_list<int64_t> shape);

}  // namespace tern
