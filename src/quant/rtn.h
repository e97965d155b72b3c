// Round-to-nearest INT4 quantisation: every group of a row gets its own grid
// (quant/group_quantizer.h) and every weight the nearest point on it. No calibration.
#pragma once

#include <cstdint>

#include "quant/int4_weight.h"
#include "tensor/tensor.h"

namespace tern {

struct QuantizeOptions {
  int64_t group_size = 128;  // columns per group; -1: the whole row
  bool sym = false;
};

// Quantises a host weight [N, K] of any float dtype. Throws tern::Error unless K is even.
Int4Weight quantize_rtn(const Tensor& weight, const QuantizeOptions& options);

}  // namespace tern
