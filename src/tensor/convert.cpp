#include "tensor/convert.h"

#include <algorithm>
#include <vector>

#include "base/error.h"

namespace tern {

void read_as_f32(const Tensor& src, int64_t offset, int64_t n, float* dst) {
  switch (src.dtype) {
    case DType::kF32: {
      const float* p = src.ptr<const float>() + offset;
      for (int64_t i = 0; i < n; ++i) dst[i] = p[i];
      return;
    }
    case DType::kBF16: {
      const uint16_t* p = src.ptr<const uint16_t>() + offset;
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(p[i]);
      return;
    }
    case DType::kF16: {
      const uint16_t* p = src.ptr<const uint16_t>() + offset;
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(p[i]);
      return;
    }
    default:
      throw error("expected a F32/BF16/F16 tensor, got ", dtype_name(src.dtype));
  }
}

Tensor convert_host(const Tensor& src, DType dtype) {
  if (!is_float_dtype(src.dtype) || !is_float_dtype(dtype))
    throw error("cannot convert ", dtype_name(src.dtype), " to ", dtype_name(dtype));
  Tensor out = host_tensor(dtype, {src.numel()});
  out.ndim = src.ndim;
  out.shape = src.shape;
  const int64_t n = src.numel();
  std::vector<float> chunk(size_t(std::min<int64_t>(n, 1 << 16)));
  for (int64_t begin = 0; begin < n; begin += int64_t(chunk.size())) {
    const int64_t len = std::min<int64_t>(n - begin, int64_t(chunk.size()));
    read_as_f32(src, begin, len, chunk.data());
    for (int64_t i = 0; i < len; ++i) {
      if (dtype == DType::kF32) out.ptr<float>()[begin + i] = chunk[i];
      else if (dtype == DType::kBF16) out.ptr<uint16_t>()[begin + i] = f32_to_bf16(chunk[i]);
      else out.ptr<uint16_t>()[begin + i] = f32_to_f16(chunk[i]);
    }
  }
  return out;
}

}  // namespace tern
