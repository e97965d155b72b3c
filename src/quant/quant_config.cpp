#include "quant/quant_config.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "base/error.h"

namespace tern {
namespace {

using nlohmann::json;

constexpr const char* kSupported =
    "supported: quant_method \"gptq\" (bits 4, checkpoint_format \"gptq\" or \"gptq_v2\", int32 packing) and "
    "\"awq\" (bits 4, version \"gemm\", zero_point true)";

// Reads fields of the quantization_config object; null counts as absent.
class QuantFields {
 public:
  QuantFields(const json& object, const std::string& source) : object_(object), source_(source) {}

  template <typename... Args>
  Error fail(const std::string& key, Args&&... args) const {
    return error(source_, ": field 'quantization_config.", key, "': ", std::forward<Args>(args)..., " (", kSupported,
                 ")");
  }
  const json* find(const char* key) const {
    auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }
  std::string string_or(const char* key, const std::string& fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_string()) throw fail(key, v->dump(), " is not a string");
    return v->get<std::string>();
  }
  bool boolean_or(const char* key, bool fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_boolean()) throw fail(key, v->dump(), " is not true or false");
    return v->get<bool>();
  }
  int64_t integer(const char* key) const {
    const json* v = find(key);
    if (!v) throw fail(key, "is missing");
    if (!v->is_number_integer()) throw fail(key, v->dump(), " is not an integer");
    return v->get<int64_t>();
  }

 private:
  const json& object_;
  const std::string& source_;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

void parse_gptq(const QuantFields& f, QuantizationConfig& c) {
  c.sym = f.boolean_or("sym", true);
  c.desc_act = f.boolean_or("desc_act", false);
  // GPTQModel's own quantize_config.json calls the field `format`.
  const std::string format = f.string_or("checkpoint_format", f.string_or("format", "gptq"));
  if (format == "gptq") {
    c.gptq_format = GptqFormat::kV1;
  } else if (format == "gptq_v2") {
    c.gptq_format = GptqFormat::kV2;
  } else {
    throw f.fail("checkpoint_format", "'", format, "' is not supported");
  }
  if (f.boolean_or("is_marlin_format", false)) throw f.fail("is_marlin_format", "the Marlin layout is not supported");
  if (const std::string pack = f.string_or("pack_dtype", "int32"); pack != "int32" && pack != "torch.int32")
    throw f.fail("pack_dtype", "'", pack, "' is not supported");
  if (f.boolean_or("lm_head", false)) throw f.fail("lm_head", "a quantized lm_head is not supported");
  if (const json* dynamic = f.find("dynamic"); dynamic && !dynamic->empty())
    throw f.fail("dynamic", "per-module overrides are not supported");
}

void parse_awq(const QuantFields& f, QuantizationConfig& c) {
  const std::string version = lower(f.string_or("version", "gemm"));
  if (version != "gemm") throw f.fail("version", "'", version, "' is not supported");
  if (!f.boolean_or("zero_point", true)) throw f.fail("zero_point", "false is not supported");
  c.sym = false;
  if (const json* skip = f.find("modules_to_not_convert")) {
    if (!skip->is_array()) throw f.fail("modules_to_not_convert", skip->dump(), " is not a list");
    for (const auto& name : *skip) {
      if (!name.is_string()) throw f.fail("modules_to_not_convert", name.dump(), " is not a module name");
      c.modules_not_converted.push_back(name.get<std::string>());
    }
  }
}

}  // namespace

QuantizationConfig parse_quantization_config(const json& object, const std::string& source) {
  const QuantFields f(object, source);
  if (!object.is_object()) throw error(source, ": field 'quantization_config': ", object.dump(), " is not an object");
  QuantizationConfig c;
  const std::string method = f.string_or("quant_method", "");
  if (method.empty()) throw f.fail("quant_method", "is missing");
  if (method == "gptq") {
    c.method = QuantMethod::kGptq;
  } else if (method == "awq") {
    c.method = QuantMethod::kAwq;
  } else {
    throw f.fail("quant_method", "'", method, "' is not supported");
  }
  const int64_t bits = f.integer("bits");
  if (bits != 4) throw f.fail("bits", bits, " is not supported");
  c.bits = 4;
  c.group_size = f.integer("group_size");
  if (c.group_size != -1 && (c.group_size < 1 || c.group_size > (int64_t(1) << 20)))
    throw f.fail("group_size", c.group_size, " must be -1 or a positive number of columns");
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

}  // namespace tern
