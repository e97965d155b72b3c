// Host-side conversions between float dtypes (F32, BF16, F16).
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace tern {

// dst[i] = float(src[offset + i]) for i in [0, n). src must be a float dtype on the host.
void read_as_f32(const Tensor& src, int64_t offset, int64_t n, float* dst);

// A new host tensor of the same shape holding src converted to `dtype` (float dtypes;
// rounding to nearest even). Throws tern::Error for non-float dtypes.
Tensor convert_host(const Tensor& src, DType dtype);

}  // namespace tern
