#include "quant/group_quantizer.h"

#include <algorithm>

#include "tensor/dtype.h"

namespace tern {
namespace {

// The smallest F16 value >= x (x > 0): a scale rounded up keeps the group's whole range
// on the grid, so no weight is clipped by more than half a step.
float f16_scale(float x) {
  uint16_t h = f32_to_f16(x);
  if (f16_to_f32(h) < x) ++h;  // positive F16 values order like their bit patterns
  return std::max(f16_to_f32(h), f16_to_f32(1));
}

}  // namespace

GroupGrid find_group_grid(const float* x, int64_t n, bool sym) {
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  if (sym) {
    const float amax = std::max(-lo, hi);
    // An all-zero group gets the grid of [-1, 1], as in AutoGPTQ.
    return GroupGrid{.scale = f16_scale(amax == 0.0f ? 2.0f / kInt4MaxCode : 2.0f * amax / kInt4MaxCode),
                     .zero = (kInt4MaxCode + 1) / 2};
  }
  if (lo == 0.0f && hi == 0.0f) {
    lo = -1.0f;
    hi = 1.0f;
  }
  GroupGrid g{.scale = f16_scale((hi - lo) / kInt4MaxCode), .zero = 0};
  g.zero = int(std::clamp(std::nearbyint(-lo / g.scale), 0.0f, float(kInt4MaxCode)));
  if (g.zero == 0) {
    // All values are >= 0: keep zero at 1 and stretch the scale so hi still fits.
    g.scale = f16_scale(hi / (kInt4MaxCode - 1));
    g.zero = 1;
  }
  return g;
}

}  // namespace tern
