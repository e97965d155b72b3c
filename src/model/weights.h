// The weights of a Llama-family decoder on a backend, loaded from a WeightStore.
// Q/K/V projections are fused into one [(Hq + 2 Hkv) * D, H] matrix and gate/up into
// one [2 I, H] matrix, so each is a single GEMM.
#pragma once

#include <functional>
#include <vector>

#include "backend/backend.h"
#include "model/config.h"
#include "model/safetensors.h"

namespace tern {

struct LayerWeights {
  Tensor input_norm;           // [H]
  Tensor post_attention_norm;  // [H]
  LinearWeight qkv;            // [(Hq + 2 Hkv) * D, H], bias when attention_bias
  LinearWeight o_proj;         // [H, Hq * D]
  LinearWeight gate_up;        // [2 I, H]
  LinearWeight down;           // [H, I]
};

struct ModelWeights {
  Tensor embed_tokens;  // [V, H]
  std::vector<LayerWeights> layers;
  Tensor final_norm;     // [H]
  LinearWeight lm_head;  // [V, H]; shares embed_tokens when tied
  size_t device_bytes = 0;  // bytes the weights occupy on the device
};

// Called after each tensor is uploaded with (bytes done, bytes total).
using LoadProgress = std::function<void(size_t, size_t)>;

// Checks every tensor's presence, dtype and shape against `config` and uploads it.
// Errors name the folder, the tensor, and expected vs actual shape.
ModelWeights load_weights(const ModelConfig& config, const WeightStore& store, Backend& backend,
                          const LoadProgress& progress = {});

}  // namespace tern
