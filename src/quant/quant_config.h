// `quantization_config` of a Hugging Face config.json: which INT4 checkpoint format the
// decoder's linear layers are stored in. tern reads 4-bit GPTQ (AutoGPTQ / GPTQModel,
// checkpoint_format "gptq" or "gptq_v2") and 4-bit AWQ (AutoAWQ GEMM with zero points).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace tern {

enum class QuantMethod { kGptq, kAwq };

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
  std::vector<std::string> modules_not_converted;  // AWQ modules_to_not_convert

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

}  // namespace tern
