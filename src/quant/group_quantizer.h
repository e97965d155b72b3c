// The 4-bit grid of one group of weights, shared by round-to-nearest and GPTQ.
// As in AutoGPTQ, the range always contains 0 ([min(x, 0), max(x, 0)]) so that zero is
// exactly representable, and a symmetric grid puts the zero point at 8. Two choices
// keep the result exact in tern's GPTQ v1 output: the scale is rounded up to an F16
// value before any code is chosen (the checkpoint stores F16 scales), and an asymmetric
// zero point stays in [1, 15] (v1 stores zero - 1 in 4 bits). Every value of the group
// is then within half a step of its grid point.
#pragma once

#include <cmath>
#include <cstdint>

#include "quant/int4_weight.h"

namespace tern {

struct GroupGrid {
  float scale = 1.0f;  // a value representable in F16, > 0
  int zero = 8;        // in [1, 15]
};

// The grid for values x[0 .. n).
GroupGrid find_group_grid(const float* x, int64_t n, bool sym);

inline int quantize_to_grid(float x, const GroupGrid& g) {
  const float q = std::nearbyint(x / g.scale) + float(g.zero);
  return int(std::fmin(std::fmax(q, 0.0f), float(kInt4MaxCode)));
}

// The value a code stands for, computed exactly as dequantize_int4_row does.
inline float grid_value(int code, const GroupGrid& g) { return g.scale * float(code - g.zero); }

}  // namespace tern
