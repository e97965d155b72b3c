// config.json of a Hugging Face Llama-family decoder, parsed and validated.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tern {

enum class RopeScalingType { kNone, kLinear, kLlama3, kYarn };

// rope_scaling / rope_parameters. Field names follow transformers'.
struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  double factor = 1.0;
  // llama3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 0;  // 0 = not given
  // yarn
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
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // hidden_size / num_attention_heads unless given
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 0;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // Q/K/V projections have a bias (always true for Qwen2)
  bool mlp_bias = false;
  std::string torch_dtype;  // as written ("bfloat16", ...), may be empty
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // eos_token_id as a number or a list
};

// Parses a config.json; `source` names the file in error messages. Throws tern::Error
// for an unsupported architecture or field value, listing what is supported.
ModelConfig parse_model_config(const nlohmann::json& json, const std::string& source);
// Reads and parses DIR/config.json.
ModelConfig load_model_config(const std::string& model_dir);

}  // namespace tern
