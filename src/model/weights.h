// The weights of a Llama-family decoder on a backend, loaded from a WeightStore: the whole
// model, or one rank's shard of it for tensor parallelism (model/tensor_parallel.h).
// Q/K/V projections are fused into one [(Hq + 2 Hkv) * D, H] matrix and gate/up into
// one [2 I, H] matrix, so each is a single GEMM. Shapes below are for the whole model; a
// shard has its own Hq, Hkv, I (ModelShard) and V = ModelShard::vocab_rows rows of the
// vocabulary tables, and holds the o_proj / down inputs matching its heads and channels.
#pragma once

#include <functional>
#include <vector>

#include "backend/backend.h"
#include "model/config.h"
#include "model/safetensors.h"
#include "model/tensor_parallel.h"

namespace tern {

struct LayerWeights {
  Tensor input_norm;           // [H]
  Tensor post_attention_norm;  // [H]
  LinearWeight qkv;            // [(Hq + 2 Hkv) * D, H], bias when attention_bias
  LinearWeight o_proj;         // [H, Hq * D]; bias when o_proj_bias, on rank 0 only
  LinearWeight gate_up;        // [2 I, H]
  LinearWeight down;           // [H, I]; its bias on rank 0 only
};

struct ModelWeights {
  Tensor embed_tokens;  // [V, H]
  std::vector<LayerWeights> layers;
  Tensor final_norm;        // [H]
  LinearWeight lm_head;     // [V, H]; shares embed_tokens when tied
  size_t device_bytes = 0;  // bytes the weights occupy on the device
  ModelShard shard;         // which part of the model these are
  // FP8 KV cache scales per layer, from the checkpoint's `self_attn.k_scale` / `v_scale`
  // (or one `self_attn.kv_scale` for both, as older FP8 checkpoints store it); empty when
  // it has none.
  std::vector<float> k_scales, v_scales;
};

// Called as tensors are read with (checkpoint bytes done, bytes total); the last call has
// done == total.
using LoadProgress = std::function<void(size_t, size_t)>;

// Checks every tensor's presence, dtype and shape against `config`, and uploads the part
// `shard` holds (slicing on the host first, so the device never holds the rest). Errors
// name the folder, the tensor, and expected vs actual shape, or why an INT4 weight cannot
// be split.
ModelWeights load_weights(const ModelConfig& config, const WeightStore& store, Backend& backend,
                          const ModelShard& shard, const LoadProgress& progress = {});
// The whole model.
ModelWeights load_weights(const ModelConfig& config, const WeightStore& store, Backend& backend,
                          const LoadProgress& progress = {});

}  // namespace tern
