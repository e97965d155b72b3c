// What every CPU op uses: operand checks that name the op, widening BF16/F16/F32 data to
// F32 (the CPU backend keeps weights in their stored dtype and widens them where they are
// used), and the fixed-order dot product.
#pragma once

#include <cstdint>

#include "base/error.h"
#include "tensor/convert.h"
#include "tensor/tensor.h"

namespace tern::cpu {

// dst[i] = float(src[offset + i]) for i in [0, n).
inline void widen(const Tensor& src, int64_t offset, int64_t n, float* dst) { read_as_f32(src, offset, n, dst); }

// Throws unless t is on the CPU with the given dtype: ops name themselves and the operand.
inline void expect(const Tensor& t, DType dtype, const char* op, const char* operand) {
  if (t.device != Device::kCpu || t.dtype != dtype)
    throw error("cpu ", op, ": ", operand, " must be a CPU ", dtype_name(dtype), " tensor, got ", dtype_name(t.dtype),
                t.device == Device::kCpu ? "" : " on another device");
}

inline void expect_float(const Tensor& t, const char* op, const char* operand) {
  if (t.device != Device::kCpu || (t.dtype != DType::kF32 && t.dtype != DType::kBF16 && t.dtype != DType::kF16))
    throw error("cpu ", op, ": ", operand, " must be a CPU F32/BF16/F16 tensor, got ", dtype_name(t.dtype));
}

// Sum of a[i] * b[i] in a fixed order (8 interleaved partial sums, then a fixed tree),
// so results never depend on batch composition or thread count, and the compiler can
// vectorise the lanes without reassociating.
inline float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  for (int j = 0; i < n; ++i, ++j) acc[j] += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

}  // namespace tern::cpu
