// Rotary-embedding frequencies for a ModelConfig, computed exactly as transformers'
// ROPE_INIT_FUNCTIONS (modeling_rope_utils.py, v5) do: the same float32 tensor steps in
// the same order, and the same float64 Python scalar steps. The only difference left is
// powf itself (glibc here, SLEEF or CUDA in torch), which may differ by one ulp.
#pragma once

#include <vector>

#include "model/config.h"

namespace tern {

struct RopeInit {
  std::vector<float> inv_freq;     // [head_dim / 2]: angle of pair i = position * inv_freq[i]
  float attention_scaling = 1.0f;  // multiplies cos and sin (YaRN's attention factor, else 1)
};

// Precondition: `config` came from parse_model_config (even head_dim, validated RoPE).
RopeInit compute_rope(const ModelConfig& config);

}  // namespace tern
