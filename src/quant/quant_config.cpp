#include "quant/quant_config.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/json_file_policy.h"
#include "quant/fp8_config.h"

namespace tern {
namespace {

using nlohmann::json;

constexpr const char* kSupported =
    "supported: quant_method \"gptq\" (bits 4, checkpoint_format \"gptq\" or \"gptq_v2\", int32 packing), "
    "\"awq\" (bits 4, version \"gemm\", zero_point true), and FP8 e4m3 as \"fp8\" or \"compressed-tensors\"";
constexpr const char* kSupportedFp8 =
    "supported FP8: quant_method \"fp8\" (per-tensor scales with dynamic or static activations, or "
    "weight_block_size with dynamic activations) and \"compressed-tensors\" float-quantized W8A8 (weights per "
    "tensor, channel or block; activations per token, per group, or static per tensor); see docs/quantization.md";

// quantization_config's fields (base/json_reader.h): every problem names the file and the
// field and ends with what is supported.
using QuantFields = JsonReader<json>;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

void parse_gptq(const QuantFields& f, QuantizationConfig& c) {
  c.sym = f.boolean("sym").value_or(true);
  c.desc_act = f.boolean("desc_act").value_or(false);
  // GPTQModel's own quantize_config.json calls the field `format`.
  const std::string format = f.string("checkpoint_format").value_or(f.string("format").value_or("gptq"));
  if (format == "gptq") {
    c.gptq_format = GptqFormat::kV1;
  } else if (format == "gptq_v2") {
    c.gptq_format = GptqFormat::kV2;
  } else {
    f.fail_at("checkpoint_format", "'", format, "' is not supported");
  }
  if (f.boolean("is_marlin_format").value_or(false))
    f.fail_at("is_marlin_format", "the Marlin layout is not supported");
  if (const std::string pack = f.string("pack_dtype").value_or("int32"); pack != "int32" && pack != "torch.int32")
    f.fail_at("pack_dtype", "'", pack, "' is not supported");
  if (f.boolean("lm_head").value_or(false)) f.fail_at("lm_head", "a quantized lm_head is not supported");
  if (const json* dynamic = f.find("dynamic"); dynamic && !dynamic->empty())
    f.fail_at("dynamic", "per-module overrides are not supported");
}

void parse_awq(const QuantFields& f, QuantizationConfig& c) {
  const std::string version = lower(f.string("version").value_or("gemm"));
  if (version != "gemm") f.fail_at("version", "'", version, "' is not supported");
  if (!f.boolean("zero_point").value_or(true)) f.fail_at("zero_point", "false is not supported");
  c.sym = false;
  if (const json* skip = f.find("modules_to_not_convert")) {
    if (!skip->is_array()) f.fail_at("modules_to_not_convert", skip->dump(), " is not a list");
    for (const auto& name : *skip) {
      if (!name.is_string()) f.fail_at("modules_to_not_convert", name.dump(), " is not a module name");
      c.modules_not_converted.push_back(name.get<std::string>());
    }
  }
}

}  // namespace

QuantizationConfig parse_quantization_config(const json& object, const std::string& source) {
  if (!object.is_object()) throw error(source, ": field 'quantization_config': ", object.dump(), " is not an object");
  const auto method_field = object.find("quant_method");
  const std::string method =
      method_field != object.end() && method_field->is_string() ? method_field->get<std::string>() : "";
  const bool fp8 = method == "fp8" || method == "compressed-tensors";
  const QuantFields f(object, "quantization_config",
                      config_file_policy(source, std::string(" (") + (fp8 ? kSupportedFp8 : kSupported) + ")"));
  QuantizationConfig c;
  if (f.string("quant_method").value_or("").empty()) f.fail_at("quant_method", "is missing");
  if (method == "fp8") {
    parse_fp8_config(f, c);
    return c;
  }
  if (method == "compressed-tensors") {
    parse_compressed_tensors_config(f, c);
    return c;
  }
  if (method == "gptq") {
    c.method = QuantMethod::kGptq;
  } else if (method == "awq") {
    c.method = QuantMethod::kAwq;
  } else {
    f.fail_at("quant_method", "'", method, "' is not supported");
  }
  const int64_t bits = f.required("bits").as_integer();
  if (bits != 4) f.fail_at("bits", bits, " is not supported");
  c.bits = 4;
  c.group_size = f.required("group_size").as_integer();
  if (c.group_size != -1 && (c.group_size < 1 || c.group_size > (int64_t(1) << 20)))
    f.fail_at("group_size", c.group_size, " must be -1 or a positive number of columns");
  if (c.method == QuantMethod::kGptq)
    parse_gptq(f, c);
  else
    parse_awq(f, c);
  return c;
}

json gptq_config_json(int64_t group_size, bool sym, bool desc_act, double damp_percent) {
  return json{{"quant_method", "gptq"},       {"bits", 4},
              {"group_size", group_size},     {"sym", sym},
              {"desc_act", desc_act},         {"checkpoint_format", "gptq"},
              {"damp_percent", damp_percent}, {"static_groups", false},
              {"true_sequential", true},      {"lm_head", false}};
}

json fp8_config_json() {
  const json weights{{"num_bits", 8},       {"type", "float"},      {"symmetric", true},    {"strategy", "channel"},
                     {"dynamic", false},    {"group_size", nullptr}, {"block_structure", nullptr},
                     {"actorder", nullptr}, {"observer", "minmax"}, {"observer_kwargs", json::object()}};
  const json activations{{"num_bits", 8},         {"type", "float"},      {"symmetric", true},
                         {"strategy", "token"},   {"dynamic", true},      {"group_size", nullptr},
                         {"block_structure", nullptr}, {"actorder", nullptr}, {"observer", nullptr},
                         {"observer_kwargs", json::object()}};
  return json{{"quant_method", "compressed-tensors"},
              {"format", "float-quantized"},
              {"quantization_status", "compressed"},
              {"config_groups",
               {{"group_0",
                 {{"targets", {"Linear"}},
                  {"weights", weights},
                  {"input_activations", activations},
                  {"output_activations", nullptr},
                  {"format", "float-quantized"}}}}},
              {"ignore", {"lm_head"}},
              {"kv_cache_scheme", nullptr},
              {"global_compression_ratio", nullptr},
              {"sparsity_config", json::object()}};
}

QuantizationConfig online_fp8_config() {
  QuantizationConfig c;
  c.method = QuantMethod::kFp8;
  c.bits = 8;
  c.fp8 = Fp8Config{.format = Fp8Config::Format::kOnline,
                    .weight_scales = Fp8Config::WeightScales::kChannel,
                    .activations = Fp8Activations::kPerToken};
  return c;
}

bool module_not_converted(const QuantizationConfig& config, const std::string& module) {
  for (const std::string& entry : config.modules_not_converted) {
    if (entry.rfind("re:", 0) == 0) {
      // compressed-tensors matches with Python's re.match: anchored at the start only.
      try {
        if (std::regex_search(module, std::regex(entry.substr(3)), std::regex_constants::match_continuous))
          return true;
      } catch (const std::regex_error& e) {
        throw error("config.json: quantization_config lists '", entry, "', which is not a valid pattern: ", e.what());
      }
    } else if (module.find(entry) != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace tern
