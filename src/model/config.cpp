#include "model/config.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "base/echo.h"
#include "base/error.h"
#include "base/json_file_policy.h"
#include "base/log.h"
#include "model/json_file.h"

namespace tern {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxConfigBytes = 16ull << 20;

struct Architecture {
  const char* name;
  const char* model_type;
};
constexpr Architecture kArchitectures[] = {
    {"Qwen2ForCausalLM", "qwen2"}, {"LlamaForCausalLM", "llama"}, {"MistralForCausalLM", "mistral"}};
constexpr const char* kSupportedArchitectures = "Qwen2ForCausalLM, LlamaForCausalLM, MistralForCausalLM";
constexpr const char* kSupportedRopeTypes = "default, linear, llama3, yarn";

// A JSON value as it would appear in the file, shortened for an error line.
std::string shown(const json& v) { return echo(v.dump(-1, ' ', false, json::error_handler_t::replace), 77); }

// config.json's fields (base/json_reader.h, worded by base/json_file_policy.h): every
// problem names the file and the field ("rope_scaling.factor").
using Fields = JsonReader<json>;
constexpr double kNoMax = Fields::kNoMax;

// Written as null, which the reader takes for absent.
bool is_null(const Fields& f, const char* key) {
  const auto it = f.value().find(key);
  return it != f.value().end() && it->is_null();
}

const Architecture& parse_architecture(const Fields& f) {
  const json* list = f.find("architectures");
  if (!list) f.fail_at("architectures", "is missing (supported: ", kSupportedArchitectures, ")");
  if (!list->is_array() || list->empty() || !(*list)[0].is_string())
    f.fail_at("architectures", shown(*list), " is not a list of architecture names");
  const std::string name = (*list)[0].get<std::string>();
  for (const auto& a : kArchitectures) {
    if (name == a.name) return a;
  }
  f.fail_at("architectures", "'", name, "' is not supported (supported: ", kSupportedArchitectures, ")");
}

// Whether `x` is one of `keys`.
bool one_of(std::string_view x, std::initializer_list<std::string_view> keys) {
  for (std::string_view k : keys) {
    if (x == k) return true;
  }
  return false;
}

// The RoPE dict: transformers v5 takes `rope_scaling` when it is non-empty, else
// `rope_parameters`; inside it, its own rope_theta wins over the top-level one, and the
// top-level original_max_position_embeddings (Phi-3 style) wins over its own.
void parse_rope(const Fields& top, const std::string& source, ModelConfig& c) {
  std::optional<Fields> rope;
  for (const char* name : {"rope_scaling", "rope_parameters"}) {
    rope = top.object(name);
    if (rope && !rope->value().empty()) break;
    rope.reset();
  }
  c.rope_theta = top.number("rope_theta", 1.0, kNoMax, true).value_or(10000.0);
  if (!rope) return;

  const Fields& f = *rope;
  const json& dict = f.value();
  for (const auto& [key, value] : dict.items()) {
    if (value.is_object()) f.fail_at(key, "per-layer RoPE parameters are not supported");
  }
  c.rope_theta = f.number("rope_theta", 1.0, kNoMax, true).value_or(c.rope_theta);
  if (auto prf = f.number("partial_rotary_factor", 0.0, kNoMax, true); prf && *prf != 1.0)
    f.fail_at("partial_rotary_factor", *prf, " is not supported (RoPE over the whole head only)");

  const char* type_key = f.find("rope_type") ? "rope_type" : "type";
  const std::string type = f.string(type_key).value_or("default");
  RopeScaling& r = c.rope_scaling;
  std::vector<std::string_view> known;  // the type's own keys, for the unknown-key warning
  if (type == "default") {
    r.type = RopeScalingType::kNone;
  } else if (type == "linear") {
    r.type = RopeScalingType::kLinear;
    known = {"factor"};
  } else if (type == "llama3") {
    r.type = RopeScalingType::kLlama3;
    known = {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"};
  } else if (type == "yarn") {
    r.type = RopeScalingType::kYarn;
    known = {"factor",           "original_max_position_embeddings",
             "attention_factor", "beta_fast",
             "beta_slow",        "mscale",
             "mscale_all_dim",   "truncate"};
  } else {
    f.fail_at(type_key, "'", type, "' is not supported (supported: ", kSupportedRopeTypes, ")");
  }
  for (const auto& [key, value] : dict.items()) {
    if (!one_of(key, {"rope_type", "type", "rope_theta", "partial_rotary_factor"}) &&
        std::find(known.begin(), known.end(), key) == known.end())
      log_warn(source, ": ignoring field '", f.field_path(key), "' for rope type ", type);
  }

  if (r.type == RopeScalingType::kLlama3 || r.type == RopeScalingType::kYarn) {
    r.original_max_position_embeddings =
        top.find("original_max_position_embeddings")
            ? top.required("original_max_position_embeddings").as_integer(1, kMaxPositions)
            : f.integer("original_max_position_embeddings", 1, kMaxPositions).value_or(c.max_position_embeddings);
  }
  switch (r.type) {
    case RopeScalingType::kNone:
      break;
    case RopeScalingType::kLinear:
      r.factor = f.required("factor").as_number(0.0, kNoMax, true);
      break;
    case RopeScalingType::kLlama3:
      r.factor = f.required("factor").as_number(0.0, kNoMax, true);
      r.low_freq_factor = f.required("low_freq_factor").as_number(0.0, kNoMax, true);
      r.high_freq_factor = f.required("high_freq_factor").as_number(0.0, kNoMax, true);
      if (r.high_freq_factor <= r.low_freq_factor)
        f.fail_at("high_freq_factor", r.high_freq_factor, " must exceed low_freq_factor ", r.low_freq_factor);
      break;
    case RopeScalingType::kYarn:
      if (!dict.contains("factor")) f.fail_at("factor", "is missing");
      // An explicit null factor means "the context extension ratio", as in transformers.
      r.factor = f.number("factor", 0.0, kNoMax, true)
                     .value_or(double(c.max_position_embeddings) / double(r.original_max_position_embeddings));
      r.attention_factor = f.number("attention_factor", 0.0, kNoMax, true);
      // transformers reads these with `or`, so 0 also means "use the default".
      r.beta_fast = f.number("beta_fast", 0.0, kNoMax, false).value_or(0.0);
      r.beta_slow = f.number("beta_slow", 0.0, kNoMax, false).value_or(0.0);
      if (r.beta_fast == 0.0) r.beta_fast = 32.0;
      if (r.beta_slow == 0.0) r.beta_slow = 1.0;
      r.mscale = f.number("mscale", -std::numeric_limits<double>::max(), kNoMax, false);
      r.mscale_all_dim = f.number("mscale_all_dim", -std::numeric_limits<double>::max(), kNoMax, false);
      r.truncate = f.boolean("truncate").value_or(true);
      break;
  }
}

// `sliding_window` as transformers' configs read it: absent is their default 4096, null
// is no window (0).
int64_t window_field(const Fields& f) {
  if (is_null(f, "sliding_window")) return 0;
  return f.integer("sliding_window", 1, kMaxPositions).value_or(4096);
}

// Which layers slide, and over how many keys (ModelConfig::sliding_window).
void parse_sliding_window(const Fields& f, ModelConfig& c) {
  const size_t layers = size_t(c.num_hidden_layers);
  if (c.model_type == "mistral") {
    // MistralModel windows every layer; transformers ignores (and warns about) layer_types.
    c.sliding_window = window_field(f);
    if (c.sliding_window > 0) c.sliding_layers.assign(layers, true);
    return;
  }
  if (c.model_type != "qwen2") return;
  const bool use = f.boolean("use_sliding_window").value_or(false);
  const int64_t window = use ? window_field(f) : 0;
  std::vector<bool> sliding(layers, false);
  if (const json* types = f.find("layer_types")) {
    if (!types->is_array() || types->size() != layers)
      f.fail_at("layer_types", shown(*types), " is not a list of ", layers, " layer types (one per layer)");
    for (size_t i = 0; i < layers; ++i) {
      const json& type = (*types)[i];
      sliding[i] = type == "sliding_attention";
      if (!sliding[i] && type != "full_attention")
        f.fail_at("layer_types", "layer ", i, ": ", shown(type),
                  " is not supported (supported: full_attention, sliding_attention)");
      if (sliding[i] && window == 0)
        f.fail_at("layer_types", "layer ", i, " is sliding_attention but ",
                  use ? "sliding_window is null" : "use_sliding_window is false", ": there is no window");
    }
  } else if (window > 0) {
    // Qwen2Config's default for max_window_layers is 28.
    const int64_t first = f.integer("max_window_layers", 0, kMaxLayers).value_or(28);
    for (size_t i = size_t(first); i < layers; ++i) sliding[i] = true;
  }
  if (window > 0 && std::find(sliding.begin(), sliding.end(), true) != sliding.end()) {
    c.sliding_window = window;
    c.sliding_layers = std::move(sliding);
  }
}

// transformers' ACT2FN names of the activations tern computes; the three architectures
// default to SiLU.
Activation parse_hidden_act(const Fields& f) {
  static constexpr std::pair<std::string_view, Activation> kNames[] = {{"silu", Activation::kSilu},
                                                                       {"swish", Activation::kSilu},
                                                                       {"gelu", Activation::kGelu},
                                                                       {"gelu_pytorch_tanh", Activation::kGeluTanh},
                                                                       {"gelu_new", Activation::kGeluTanh}};
  const std::optional<std::string> name = f.string("hidden_act");
  if (!name) return Activation::kSilu;
  for (const auto& [known, act] : kNames) {
    if (*name == known) return act;
  }
  f.fail_at("hidden_act", "'", *name, "' is not supported (supported: silu, swish, gelu, gelu_pytorch_tanh, gelu_new)");
}

}  // namespace

ModelConfig parse_model_config(const json& root, const std::string& source) {
  if (!root.is_object()) throw error(source, ": not a JSON object");
  const Fields f(root, "", config_file_policy(source));
  ModelConfig c;

  const Architecture& arch = parse_architecture(f);
  c.architecture = arch.name;
  c.model_type = f.string("model_type").value_or(arch.model_type);
  if (c.model_type != arch.model_type)
    f.fail_at("model_type", "'", c.model_type, "' does not match architecture ", arch.name, " (expects '",
              arch.model_type, "')");
  for (const char* key : {"auto_map", "trust_remote_code"}) {
    if (root.contains(key)) log_info(source, ": ignoring '", key, "': tern never runs code from a model folder");
  }

  c.vocab_size = f.required("vocab_size").as_integer(1, kMaxVocabSize);
  c.hidden_size = f.required("hidden_size").as_integer(1, kMaxHiddenSize);
  c.intermediate_size = f.required("intermediate_size").as_integer(1, kMaxIntermediateSize);
  c.num_hidden_layers = f.required("num_hidden_layers").as_integer(1, kMaxLayers);
  c.num_attention_heads = f.required("num_attention_heads").as_integer(1, kMaxHeads);
  c.num_key_value_heads = f.integer("num_key_value_heads", 1, kMaxHeads).value_or(c.num_attention_heads);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    f.fail_at("num_key_value_heads", c.num_key_value_heads, " does not divide num_attention_heads ",
              c.num_attention_heads);
  if (f.find("head_dim")) {
    c.head_dim = f.required("head_dim").as_integer(1, kMaxHeadDim);
  } else {
    if (c.hidden_size % c.num_attention_heads != 0)
      f.fail_at("hidden_size", c.hidden_size, " is not divisible by num_attention_heads ", c.num_attention_heads,
                " and head_dim is not given");
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0) f.fail_at("head_dim", c.head_dim, " is odd; rotary embeddings need an even head_dim");
  c.max_position_embeddings = f.required("max_position_embeddings").as_integer(1, kMaxPositions);
  c.rms_norm_eps = f.number("rms_norm_eps", 0.0, kNoMax, true).value_or(1e-6);
  if (c.rms_norm_eps >= 1.0) f.fail_at("rms_norm_eps", c.rms_norm_eps, " must be < 1");
  if (auto prf = f.number("partial_rotary_factor", 0.0, kNoMax, true); prf && *prf != 1.0)
    f.fail_at("partial_rotary_factor", *prf, " is not supported (RoPE over the whole head only)");
  parse_rope(f, source, c);

  c.tie_word_embeddings = f.boolean("tie_word_embeddings").value_or(false);
  // As transformers' modules read them: Qwen2Attention has Q/K/V biases and no o_proj
  // bias whatever the file says, MistralAttention none; LlamaAttention's attention_bias is
  // on Q/K/V and o_proj alike.
  const bool llama = c.model_type == "llama";
  c.o_proj_bias = llama && f.boolean("attention_bias").value_or(false);
  c.attention_bias = c.model_type == "qwen2" || c.o_proj_bias;
  c.mlp_bias = llama && f.boolean("mlp_bias").value_or(false);
  c.hidden_act = parse_hidden_act(f);
  parse_sliding_window(f, c);

  // transformers v5 writes `dtype`; older files `torch_dtype`.
  c.torch_dtype = f.string("dtype").value_or(f.string("torch_dtype").value_or(""));
  if (f.find("bos_token_id")) c.bos_token_id = f.required("bos_token_id").as_integer(0, c.vocab_size - 1);
  if (const json* eos = f.find("eos_token_id")) {
    if (eos->is_array()) {
      for (const auto& id : *eos) c.eos_token_ids.push_back(f.at(id, "eos_token_id").as_integer(0, c.vocab_size - 1));
    } else {
      c.eos_token_ids.push_back(f.at(*eos, "eos_token_id").as_integer(0, c.vocab_size - 1));
    }
  }
  if (const json* q = f.find("quantization_config")) c.quantization = parse_quantization_config(*q, source);
  return c;
}

ModelConfig load_model_config(const std::string& model_dir) {
  const std::string path = model_dir + "/config.json";
  return parse_model_config(load_json_file(path, kMaxConfigBytes), path);
}

}  // namespace tern
