// The FP8 KV cache's element arithmetic on the CPU (KvCacheLayer in backend/backend.h):
// rope_kv_write stores e4m3(x / scale), rounded to nearest even and saturated to +-448,
// and paged_attention reads e4m3 * scale.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"

namespace tern::cpu {

inline void quantize_kv_row(const float* x, int64_t n, float scale, uint8_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = f32_to_e4m3(x[i] / scale);
}

inline void dequantize_kv_row(const uint8_t* in, int64_t n, float scale, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = e4m3_to_f32(in[i]) * scale;
}

}  // namespace tern::cpu
