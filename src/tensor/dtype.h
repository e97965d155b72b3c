// Element types tern stores and the conversions between them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace tern {

// kF8E4M3 is OCP FP8 e4m3 ("e4m3fn": no infinities, NaN = 0x7F/0xFF, max 448), the
// element type of FP8 checkpoints; tern stores its bytes and converts with the functions
// below, never through the float paths of tensor/convert.h.
enum class DType : uint8_t { kF32, kF16, kBF16, kI32, kI64, kU8, kI8, kF8E4M3 };

size_t dtype_size(DType t);
// F32, F16 or BF16: the dtypes float weights, activations and scales come in.
inline bool is_float_dtype(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }
std::string_view dtype_name(DType t);
// Parses safetensors' names ("F32", "BF16", ...); returns false if unknown.
bool dtype_from_safetensors(std::string_view name, DType* out);

inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even, NaN stays NaN (what torch does).
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t(bits >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// e4m3 to F32 (exact).
float e4m3_to_f32(uint8_t v);
// F32 to e4m3, rounding to nearest even and saturating to +-448 (what a clamp to
// [-448, 448] followed by torch's .to(torch.float8_e4m3fn) gives); NaN becomes 0x7F.
uint8_t f32_to_e4m3(float f);
inline constexpr float kE4m3Max = 448.0f;

}  // namespace tern
