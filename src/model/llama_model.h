// The Llama-family decoder forward (Qwen2, Llama, Mistral), written once against the
// backend op table. One call runs one engine step: a flat batch of tokens from any mix
// of prefills, prefill chunks and decodes, reading and writing the paged KV cache.
#pragma once

#include <vector>

#include "backend/backend.h"
#include "model/config.h"
#include "model/weights.h"

namespace tern {

// The device inputs of one step. T tokens, S sequences; all I32.
struct ForwardInputs {
  Tensor token_ids;       // [T]
  Tensor positions;       // [T]
  Tensor slot_mapping;    // [T] KV slot of each token (negative: padding)
  AttentionMetadata attention;
  Tensor logits_indices;  // [S'] rows of the batch whose logits are wanted
};

// Activation buffers sized for the largest step, allocated once and reused (no
// allocation per step). Each forward uses the first T (or S') rows.
struct Workspace {
  Tensor hidden, residual, normed, qkv, q, attn, gate_up, act;  // [max_tokens, ...]
  Tensor last_hidden;                                           // [max_logits_rows, H]
  Tensor logits;                                                // [max_logits_rows, V] F32
  int64_t max_tokens = 0;
  int64_t max_logits_rows = 0;
};

class LlamaModel {
 public:
  LlamaModel(ModelConfig config, ModelWeights weights, Backend& backend);

  const ModelConfig& config() const { return config_; }
  const AttentionShape& attention_shape() const { return attention_shape_; }
  Backend& backend() const { return backend_; }
  size_t weights_device_bytes() const { return weights_.device_bytes; }

  // Allocates the activation buffers for steps of up to max_tokens tokens and
  // max_logits_rows sampled rows.
  Workspace make_workspace(int64_t max_tokens, int64_t max_logits_rows) const;
  // Bytes make_workspace(max_tokens, max_logits_rows) allocates.
  size_t workspace_bytes(int64_t max_tokens, int64_t max_logits_rows) const;
  // Allocates num_blocks blocks of block_size tokens for every layer.
  std::vector<KvCacheLayer> make_kv_cache(int64_t num_blocks, int64_t block_size) const;
  // Bytes one KV block takes over all layers (K and V).
  size_t kv_block_bytes(int64_t block_size) const;

  // Runs the step and returns logits [S', V] (F32), a view into the workspace that is
  // valid until the next forward.
  Tensor forward(const ForwardInputs& in, const std::vector<KvCacheLayer>& kv_cache, Workspace& ws) const;

 private:
  ModelConfig config_;
  ModelWeights weights_;
  Backend& backend_;
  RopeParams rope_;
  AttentionShape attention_shape_;
};

}  // namespace tern
