// The Llama-family decoder forward (Qwen2, Llama, Mistral), written once against the
// backend op table: the embedding, every decoder layer (model/decoder_layer.h), the final
// norm and lm_head. One call runs one engine step: a flat batch of tokens from any mix
// of prefills, prefill chunks and decodes, reading and writing the paged KV cache.
//
// With tensor parallelism there is one LlamaModel per rank, each holding its shard
// (model/tensor_parallel.h) and a Communicator; every rank runs forward() on the same
// inputs at the same time, and the collectives inside it combine the shards.
#pragma once

#include <vector>

#include "backend/backend.h"
#include "backend/communicator.h"
#include "model/config.h"
#include "model/decoder_layer.h"
#include "model/weights.h"

namespace tern {

// Activation buffers sized for the largest step, allocated once and reused (no
// allocation per step). Each forward uses the first T (or S') rows. Hidden and logits
// rows are whole on every rank.
struct Workspace {
  LayerActivations layer;  // [max_tokens, ...]: every layer's, one after the other
  Tensor last_hidden;      // [max_logits_rows, H]
  Tensor logits;           // [max_logits_rows, V] F32
  Tensor shard_logits;     // tensor parallel: [max_logits_rows, vocab_rows] F32, this rank's columns
  int64_t max_tokens = 0;
  int64_t max_logits_rows = 0;
};

class LlamaModel {
 public:
  // `comm` joins the ranks of a tensor-parallel group: required when the weights are a
  // shard of a larger group (its rank and size must match), ignored for a whole model.
  LlamaModel(ModelConfig config, ModelWeights weights, Backend& backend, Communicator* comm = nullptr);

  const ModelConfig& config() const { return config_; }
  const ModelShard& shard() const { return weights_.shard; }
  // Layer `layer`'s attention: this rank's heads, and the layer's sliding window.
  AttentionShape attention_shape(int64_t layer) const { return layer_attention(layer_context_, layer); }
  Backend& backend() const { return backend_; }
  size_t weights_device_bytes() const { return weights_.device_bytes; }

  // Allocates the activation buffers for steps of up to max_tokens tokens and
  // max_logits_rows sampled rows.
  Workspace make_workspace(int64_t max_tokens, int64_t max_logits_rows) const;
  // Bytes make_workspace(max_tokens, max_logits_rows) allocates, and with tensor
  // parallelism the communicator's buffer for the logits gather.
  size_t workspace_bytes(int64_t max_tokens, int64_t max_logits_rows) const;
  // The element type of the KV caches make_kv_cache allocates: the backend's
  // activation_dtype() (the default), or F8E4M3 where the backend supports_fp8_kv_cache(),
  // scaled by the checkpoint's k/v scales or else 1.0. Throws tern::Error for any other.
  void set_kv_cache_dtype(DType dtype);
  DType kv_cache_dtype() const { return kv_dtype_; }
  bool has_kv_scales() const { return !weights_.k_scales.empty(); }
  // Per-layer FP8 KV scales to use instead of the checkpoint's (calibrated ones).
  void set_kv_scales(std::vector<float> k_scales, std::vector<float> v_scales);
  // Allocates num_blocks blocks of block_size tokens for every layer, for this rank's KV
  // heads.
  std::vector<KvCacheLayer> make_kv_cache(int64_t num_blocks, int64_t block_size) const;
  // Bytes one KV block takes over all layers (K and V) on this rank.
  size_t kv_block_bytes(int64_t block_size) const;

  // Runs the step and returns logits [S', V] (F32, the whole vocabulary on every rank), a
  // view into the workspace that is valid until the next forward.
  Tensor forward(const ForwardInputs& in, const std::vector<KvCacheLayer>& kv_cache, Workspace& ws) const;

 private:
  ModelConfig config_;
  ModelWeights weights_;
  Backend& backend_;
  Communicator* comm_ = nullptr;  // null for a whole model
  DecoderLayerContext layer_context_;
  DType kv_dtype_;
};

}  // namespace tern
