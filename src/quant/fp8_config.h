// The FP8 side of parse_quantization_config (quant/quant_config.h). Supported:
//
//   quant_method "fp8" (transformers FineGrainedFP8, vLLM, AutoFP8):
//     weight_block_size [bn, bk] -> block scales `weight_scale_inv`, dynamic activations
//                                   per token and group of bk columns;
//     absent                     -> one `weight_scale` per tensor; activation_scheme
//                                   "dynamic" (computed per token) or "static" (`input_scale`).
//   quant_method "compressed-tensors", format "float-quantized", one config group:
//     weights: num_bits 8, type float, symmetric, strategy tensor | channel | block
//              (block_structure [bn, bk]);
//     input_activations: num_bits 8, type float, symmetric, strategy token (dynamic),
//              tensor (dynamic: computed per token; static: `input_scale`) or group
//              (dynamic, group_size).
// Everything else (e5m2, weight-only FP8, asymmetric or integer schemes, several config
// groups) is refused with an error naming the field.
#pragma once

#include <nlohmann/json.hpp>

#include "base/json_reader.h"
#include "quant/quant_config.h"

namespace tern {

// Fill c.fp8 and c.modules_not_converted from a quantization_config whose quant_method is
// "fp8" or "compressed-tensors"; problems go through f's policy.
void parse_fp8_config(const JsonReader<nlohmann::json>& f, QuantizationConfig& c);
void parse_compressed_tensors_config(const JsonReader<nlohmann::json>& f, QuantizationConfig& c);

}  // namespace tern
