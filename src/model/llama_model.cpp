#include "model/llama_model.h"

#include "base/error.h"

namespace tern {

LlamaModel::LlamaModel(ModelConfig config, ModelWeights weights, Backend& backend, Communicator* comm)
    : config_(std::move(config)), weights_(std::move(weights)), backend_(backend), kv_dtype_(backend.activation_dtype()) {
  const ModelShard& s = weights_.shard;
  if (!s.whole()) {
    TERN_CHECK(comm && comm->size() == s.size && comm->rank() == s.rank, "shard ", s.rank, " of ", s.size,
               " needs the communicator of its rank");
    comm_ = comm;
  }
  layer_context_ = make_decoder_layer_context(config_, s, backend_, comm_);
}

Workspace LlamaModel::make_workspace(int64_t max_tokens, int64_t max_logits_rows) const {
  const DType a = backend_.activation_dtype();
  const ModelShard& s = shard();
  Workspace ws;
  ws.max_tokens = max_tokens;
  ws.max_logits_rows = max_logits_rows;
  ws.layer = alloc_layer_activations(backend_, config_, s, max_tokens);
  ws.last_hidden = backend_.alloc(a, {max_logits_rows, config_.hidden_size});
  ws.logits = backend_.alloc(DType::kF32, {max_logits_rows, config_.vocab_size});
  if (!s.whole()) ws.shard_logits = backend_.alloc(DType::kF32, {max_logits_rows, s.vocab_rows});
  return ws;
}

size_t LlamaModel::workspace_bytes(int64_t max_tokens, int64_t max_logits_rows) const {
  const ModelShard& s = shard();
  const DType a = backend_.activation_dtype();
  // Tensor parallel: this rank's logits columns, and the communicator's buffer that
  // gathers every rank's before they are interleaved.
  const int64_t logits_cols = config_.vocab_size + (s.whole() ? 0 : (1 + s.size) * s.vocab_rows);
  return size_t(max_tokens) * layer_activation_bytes_per_token(config_, s, a) +
         size_t(max_logits_rows * config_.hidden_size) * dtype_size(a) +
         size_t(max_logits_rows * logits_cols) * sizeof(float);
}

void LlamaModel::set_kv_cache_dtype(DType dtype) {
  if (dtype == backend_.activation_dtype()) {
    kv_dtype_ = dtype;
    return;
  }
  if (dtype != DType::kF8E4M3)
    throw error("KV cache dtype ", dtype_name(dtype), " is not supported (", dtype_name(backend_.activation_dtype()),
                " or F8_E4M3)");
  if (!backend_.supports_fp8_kv_cache())
    throw error("the ", backend_.name(), " backend has no FP8 KV cache yet (--kv-cache-dtype fp8)");
  kv_dtype_ = dtype;
}

void LlamaModel::set_kv_scales(std::vector<float> k_scales, std::vector<float> v_scales) {
  TERN_CHECK(int64_t(k_scales.size()) == config_.num_hidden_layers && k_scales.size() == v_scales.size(),
             "KV scales for ", k_scales.size(), "/", v_scales.size(), " layers, the model has ",
             config_.num_hidden_layers);
  weights_.k_scales = std::move(k_scales);
  weights_.v_scales = std::move(v_scales);
}

std::vector<KvCacheLayer> LlamaModel::make_kv_cache(int64_t num_blocks, int64_t block_size) const {
  std::vector<KvCacheLayer> cache;
  const int64_t kv_heads = shard().num_kv_heads;
  const bool scaled = kv_dtype_ == DType::kF8E4M3 && !weights_.k_scales.empty();
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    KvCacheLayer layer;
    layer.k = backend_.alloc(kv_dtype_, {num_blocks, block_size, kv_heads, config_.head_dim});
    layer.v = backend_.alloc(kv_dtype_, {num_blocks, block_size, kv_heads, config_.head_dim});
    if (scaled) {
      layer.k_scale = weights_.k_scales[size_t(i)];
      layer.v_scale = weights_.v_scales[size_t(i)];
    }
    cache.push_back(std::move(layer));
  }
  return cache;
}

size_t LlamaModel::kv_block_bytes(int64_t block_size) const {
  return size_t(2 * config_.num_hidden_layers * block_size * shard().num_kv_heads * config_.head_dim) *
         dtype_size(kv_dtype_);
}

Tensor LlamaModel::forward(const ForwardInputs& in, const std::vector<KvCacheLayer>& kv_cache, Workspace& ws) const {
  const int64_t t = in.token_ids.numel(), rows = in.logits_indices.numel();
  TERN_CHECK(t > 0 && t <= ws.max_tokens, "step of ", t, " tokens, workspace holds ", ws.max_tokens);
  TERN_CHECK(rows <= ws.max_logits_rows, "step wants ", rows, " logits rows, workspace holds ", ws.max_logits_rows);
  TERN_CHECK(kv_cache.size() == weights_.layers.size());
  Backend& be = backend_;
  const LayerActivations a = ws.layer.first_rows(t);

  // The residual stream lives in a.residual; a.hidden carries each half's output, which
  // the next norm (fused with the add) folds into the stream.
  if (comm_) {
    be.embedding_slice(in.token_ids, weights_.embed_tokens, shard().vocab_begin, a.residual);
    comm_->all_reduce_sum(a.residual);
  } else {
    be.embedding(in.token_ids, weights_.embed_tokens, a.residual);
  }
  for (size_t i = 0; i < weights_.layers.size(); ++i)
    run_decoder_layer(layer_context_, int64_t(i), weights_.layers[i], kv_cache[i], in,
                      i == 0 ? LayerInput::kResidual : LayerInput::kResidualPlusHidden, a);
  if (rows == 0) return ws.logits.slice_rows(0, 0);
  be.add_rms_norm(a.residual, a.hidden, weights_.final_norm, layer_context_.rms_norm_eps, a.normed);
  Tensor last = ws.last_hidden.slice_rows(0, rows);
  be.gather_rows(a.normed, in.logits_indices, last);
  Tensor logits = ws.logits.slice_rows(0, rows);
  if (comm_) {
    // Each rank has its vocabulary columns; the gather assembles whole rows everywhere.
    Tensor mine = ws.shard_logits.slice_rows(0, rows);
    be.linear(last, weights_.lm_head, mine);
    comm_->all_gather_columns(mine, logits);
  } else {
    be.linear(last, weights_.lm_head, logits);
  }
  return logits;
}

}  // namespace tern
