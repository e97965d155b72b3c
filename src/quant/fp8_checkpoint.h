// FP8 linear layers as checkpoints store them (quant/fp8_config.h lists the formats), and
// their conversion to tern's Fp8Weight. For a layer of K inputs and N outputs:
//   <module>.weight            [N, K]                    F8_E4M3
//   <module>.weight_scale      [] or [1]                 per tensor        (any float dtype)
//                              [N] or [N, 1]             per channel
//   <module>.weight_scale_inv  [ceil(N/bn), ceil(K/bk)]  blocks, quant_method "fp8"
//   <module>.weight_scale      [ceil(N/bn), ceil(K/bk)]  blocks, compressed-tensors
//   <module>.input_scale       [] or [1]                 static activations only
#pragma once

#include <cstdint>
#include <string>

#include "quant/fp8_weight.h"
#include "quant/quant_config.h"
#include "tensor/tensor.h"

namespace tern {

// One FP8 layer's tensors as read from a checkpoint (host views).
struct Fp8Tensors {
  std::string name;    // module name, e.g. "model.layers.0.mlp.down_proj"
  std::string source;  // the file the weight was read from, for errors
  Tensor weight, weight_scale;
  Tensor input_scale;  // empty unless the scheme is static
};

// Converts a checkpoint's layer into an Fp8Weight (values stay a view of `weight`), after
// checking dtypes, shapes and scale values. Errors name the file, the tensor, and what
// the config expects ("<file>: tensor '<module>.weight_scale': shape [..] but per-channel
// scales are [N] or [N, 1]").
Fp8Weight read_fp8_linear(const Fp8Tensors& tensors, const Fp8Config& config, int64_t out_features,
                          int64_t in_features);

}  // namespace tern
