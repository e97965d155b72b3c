// config.json of a Hugging Face Llama-family decoder (Qwen2, Llama, Mistral), parsed and
// validated. Nothing in it is ever executed: auto_map and trust_remote_code are ignored.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "backend/activation.h"
#include "quant/quant_config.h"

namespace tern {

enum class RopeScalingType { kNone, kLinear, kLlama3, kYarn };

// The RoPE variant, from the classic `rope_scaling` object or transformers v5's
// `rope_parameters`. Field names follow transformers'; values are resolved the way
// transformers' standardize_rope_params resolves them, so compute_rope (model/rope.h)
// needs nothing else.
struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  double factor = 1.0;  // linear, llama3, yarn
  // llama3 and yarn: the pre-training context (defaults to max_position_embeddings)
  int64_t original_max_position_embeddings = 0;
  // llama3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  // yarn; absent or zero beta values take the defaults, as in transformers
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  std::optional<double> attention_factor;
  std::optional<double> mscale;
  std::optional<double> mscale_all_dim;
  bool truncate = true;
};

struct ModelConfig {
  std::string architecture;  // Qwen2ForCausalLM, LlamaForCausalLM or MistralForCausalLM
  std::string model_type;    // qwen2, llama, mistral
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // divides num_attention_heads
  int64_t head_dim = 0;             // even; hidden_size / num_attention_heads unless given
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 0;
  // Sliding-window attention as transformers applies it: a query at position p of a
  // sliding layer attends only keys at positions (p - sliding_window, p]. Mistral: every
  // layer (`sliding_window`; absent means MistralConfig's default 4096, null none).
  // Qwen2: only with use_sliding_window, on the layers `layer_types` calls
  // "sliding_attention", or without layer_types those from max_window_layers on.
  int64_t sliding_window = 0;        // 0: no layer slides
  std::vector<bool> sliding_layers;  // [num_hidden_layers] when sliding_window > 0
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // Q/K/V projections have a bias (always true for Qwen2)
  bool o_proj_bias = false;     // o_proj has one too (Llama's attention_bias)
  bool mlp_bias = false;
  Activation hidden_act = Activation::kSilu;  // the MLP gate's
  std::string torch_dtype;                    // `torch_dtype` or `dtype` as written ("bfloat16", ...), may be empty
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // eos_token_id as a number or a list
  // `quantization_config`: the decoder's linear layers are INT4 (GPTQ or AWQ); absent
  // for a dense model.
  std::optional<QuantizationConfig> quantization;

  // Layer `layer`'s attention window: sliding_window on a sliding layer, else 0 (all of
  // the context).
  int64_t attention_window(int64_t layer) const {
    return sliding_window > 0 && sliding_layers.at(size_t(layer)) ? sliding_window : 0;
  }
};

// Upper bounds on the sizes config.json may declare. They keep every product of a few
// dimensions (weights, KV cache bytes) far inside int64, so such products need no
// overflow checks once a config has been accepted.
inline constexpr int64_t kMaxVocabSize = int64_t(1) << 24;
inline constexpr int64_t kMaxHiddenSize = 65536;
inline constexpr int64_t kMaxIntermediateSize = int64_t(1) << 20;
inline constexpr int64_t kMaxLayers = 1024;
inline constexpr int64_t kMaxHeads = 1024;
inline constexpr int64_t kMaxHeadDim = 1024;
inline constexpr int64_t kMaxPositions = int64_t(1) << 24;

// Parses a config.json; `source` names the file in error messages. Throws tern::Error
// "<source>: field '<name>': <what>" for an unsupported architecture, RoPE type,
// activation or feature, a missing field, a value of the wrong type, or a size that is
// out of range or inconsistent; errors list what is supported. Every field that changes
// the math of the architectures tern loads (as transformers reads them) is honoured or
// refused here: sizes, head_dim, rms_norm_eps, rope_theta and the RoPE variants,
// partial_rotary_factor, hidden_act, attention_bias and mlp_bias (Llama; Qwen2's Q/K/V
// always have biases, Mistral's never), tie_word_embeddings, sliding windows and
// quantization_config. (pretraining_tp only splits a matmul in transformers: the same
// math.)
ModelConfig parse_model_config(const nlohmann::json& json, const std::string& source);
// Reads and parses DIR/config.json (duplicate keys and deep nesting rejected).
ModelConfig load_model_config(const std::string& model_dir);

}  // namespace tern
