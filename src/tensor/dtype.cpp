#include "tensor/dtype.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace tern {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
    case DType::kU8: return 1;
    case DType::kI8: return 1;
    case DType::kF8E4M3: return 1;
  }
  return 0;
}

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kI32: return "I32";
    case DType::kI64: return "I64";
    case DType::kU8: return "U8";
    case DType::kI8: return "I8";
    case DType::kF8E4M3: return "F8_E4M3";
  }
  return "?";
}

bool dtype_from_safetensors(std::string_view name, DType* out) {
  static constexpr struct {
    std::string_view name;
    DType type;
  } kNames[] = {{"F32", DType::kF32}, {"F16", DType::kF16}, {"BF16", DType::kBF16}, {"I32", DType::kI32},
                {"I64", DType::kI64}, {"U8", DType::kU8},   {"I8", DType::kI8},
                {"F8_E4M3", DType::kF8E4M3}};
  for (const auto& n : kNames) {
    if (n.name == name) {
      *out = n.type;
      return true;
    }
  }
  return false;
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint32_t sign = (bits >> 16) & 0x8000;
  uint32_t abs = bits & 0x7fffffff;
  if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00);        // NaN
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00);       // overflow to inf
  if (abs < 0x38800000u) {                                      // subnormal or zero
    float a;
    std::memcpy(&a, &abs, 4);
    return uint16_t(sign | uint32_t(std::nearbyint(a * 16777216.0f)));  // a / 2^-24
  }
  uint32_t r = abs + 0xfffu + ((abs >> 13) & 1u) - (uint32_t(127 - 15) << 23);
  return uint16_t(sign | (r >> 13));
}

namespace {

float e4m3_by_bits(uint8_t v) {
  const float sign = (v & 0x80) ? -1.0f : 1.0f;
  const int exp = (v >> 3) & 0xF, mant = v & 0x7;
  if (exp == 0xF && mant == 0x7) return std::numeric_limits<float>::quiet_NaN();
  if (exp == 0) return sign * std::ldexp(float(mant), -9);  // subnormal: mant * 2^-9
  return sign * std::ldexp(float(8 + mant), exp - 10);      // (1 + mant/8) * 2^(exp-7)
}

}  // namespace

// A table: the CPU reference decodes every weight of an FP8 layer on every call.
float e4m3_to_f32(uint8_t v) {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[size_t(i)] = e4m3_by_bits(uint8_t(i));
    return t;
  }();
  return table[v];
}

uint8_t f32_to_e4m3(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint8_t sign = uint8_t((bits >> 24) & 0x80);
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return 0x7F;
  float a;
  std::memcpy(&a, &abs, 4);
  if (a >= kE4m3Max) return sign | 0x7E;
  // Below the smallest normal (2^-6) the grid is uniform with step 2^-9; nearbyint rounds
  // half to even, and 8 steps is exactly the encoding of 2^-6.
  if (a < 0.015625f) return sign | uint8_t(std::nearbyint(a * 512.0f));
  const uint32_t mant = abs & 0x7fffffu;
  uint32_t exp = (abs >> 23) - 127 + 7;  // in [1, 15]
  uint32_t m3 = (mant + 0x7ffffu + ((mant >> 20) & 1u)) >> 20;
  if (m3 == 8) {
    m3 = 0;
    ++exp;
  }
  return sign | uint8_t(std::min<uint32_t>((exp << 3) | m3, 0x7E));
}

}  // namespace tern
