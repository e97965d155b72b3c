// `quantization_config` of a Hugging Face config.json: which quantized checkpoint format
// the decoder's linear layers are stored in. tern reads 4-bit GPTQ (AutoGPTQ / GPTQModel,
// checkpoint_format "gptq" or "gptq_v2"), 4-bit AWQ (AutoAWQ GEMM with zero points), and
// FP8 e4m3 W8A8 in the two formats FP8 models ship in: quant_method "fp8" (transformers'
// FineGrainedFP8, vLLM/AutoFP8) and "compressed-tensors" with format "float-quantized"
// (llm-compressor); quant/fp8_config.cpp lists the FP8 variants.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "quant/fp8_weight.h"

namespace tern {

enum class QuantMethod { kGptq, kAwq, kFp8 };

// How an FP8 checkpoint stores a projection: `<module>.weight` in F8_E4M3, its scales in
// `<module><scale_suffix>` and, for static activations, `<module>.input_scale`.
struct Fp8Config {
  // kOnline: a dense checkpoint that tern quantises as it loads (--quantization fp8), with
  // per-channel weight scales and per-token activations, as `tern quantize --method fp8`.
  enum class Format : uint8_t { kFp8, kCompressedTensors, kOnline };
  enum class WeightScales : uint8_t { kTensor, kChannel, kBlock };
  Format format = Format::kCompressedTensors;
  WeightScales weight_scales = WeightScales::kChannel;
  int64_t block_rows = 0, block_cols = 0;  // kBlock
  Fp8Activations activations = Fp8Activations::kPerToken;
  int64_t activation_group = 0;  // kPerTokenGroup
  std::string scale_suffix = ".weight_scale";  // ".weight_scale_inv" in quant_method "fp8" with blocks
};

// How GPTQ checkpoints store zero points: v1 (AutoGPTQ's classic "gptq" format) stores
// zero - 1, v2 ("gptq_v2", GPTQModel) stores the zero itself. AWQ always stores the zero.
enum class GptqFormat { kV1, kV2 };

struct QuantizationConfig {
  QuantMethod method = QuantMethod::kGptq;
  int bits = 4;
  int64_t group_size = 128;  // input columns per scale; -1: one group per output row
  bool sym = true;           // informational: zero points are read from qzeros either way
  bool desc_act = false;     // GPTQ act-order: groups are given by g_idx
  GptqFormat gptq_format = GptqFormat::kV1;
  // Modules left dense: AWQ modules_to_not_convert (substrings of the module name), FP8
  // ignored_layers / modules_to_not_convert / compressed-tensors ignore (names, or regexes
  // after "re:").
  std::vector<std::string> modules_not_converted;
  Fp8Config fp8;  // method kFp8

  // Columns per group for a layer of `in_features` inputs.
  int64_t group_size_for(int64_t in_features) const { return group_size < 0 ? in_features : group_size; }
};

// Parses the quantization_config object; `source` names the file in errors. Throws
// tern::Error "<source>: field 'quantization_config.<name>': <what>" for an unsupported
// method, bit width, version or checkpoint format, listing what is supported.
QuantizationConfig parse_quantization_config(const nlohmann::json& json, const std::string& source);

// The quantization_config transformers and tern expect for a GPTQ checkpoint written by
// tern (checkpoint_format "gptq", v1 zero points).
nlohmann::json gptq_config_json(int64_t group_size, bool sym, bool desc_act, double damp_percent);

// The compressed-tensors quantization_config of an FP8 checkpoint written by tern:
// float-quantized, per-channel weight scales, dynamic per-token activations, lm_head dense.
nlohmann::json fp8_config_json();

// The quantization_config of a dense checkpoint quantised to FP8 at load (Fp8Config::kOnline).
QuantizationConfig online_fp8_config();

// Whether `module` ("model.layers.3.mlp.down_proj") is one the config leaves dense.
bool module_not_converted(const QuantizationConfig& config, const std::string& module);

}  // namespace tern
