#include "model/llama_model.h"

#include <cmath>

#include "base/error.h"
#include "model/rope.h"

namespace tern {

LlamaModel::LlamaModel(ModelConfig config, ModelWeights weights, Backend& backend, Communicator* comm)
    : config_(std::move(config)), weights_(std::move(weights)), backend_(backend) {
  const ModelShard& s = weights_.shard;
  if (!s.whole()) {
    TERN_CHECK(comm && comm->size() == s.size && comm->rank() == s.rank, "shard ", s.rank, " of ", s.size,
               " needs the communicator of its rank");
    comm_ = comm;
  }
  RopeInit init = compute_rope(config_);
  Tensor inv_freq = host_tensor(DType::kF32, {int64_t(init.inv_freq.size())});
  std::copy(init.inv_freq.begin(), init.inv_freq.end(), inv_freq.ptr<float>());
  rope_.inv_freq = backend_.upload(inv_freq, DType::kF32);
  rope_.attention_scaling = init.attention_scaling;
  attention_shape_ = AttentionShape{.num_q_heads = int(s.num_q_heads),
                                    .num_kv_heads = int(s.num_kv_heads),
                                    .head_dim = int(config_.head_dim),
                                    .scale = float(1.0 / std::sqrt(double(config_.head_dim)))};
}

AttentionShape LlamaModel::attention_shape(int64_t layer) const {
  AttentionShape shape = attention_shape_;
  shape.sliding_window = int(config_.attention_window(layer));
  return shape;
}

Workspace LlamaModel::make_workspace(int64_t max_tokens, int64_t max_logits_rows) const {
  const DType a = backend_.activation_dtype();
  const ModelShard& s = shard();
  const int64_t h = config_.hidden_size, d = config_.head_dim;
  const int64_t q_width = s.num_q_heads * d;
  const int64_t qkv_width = q_width + 2 * s.num_kv_heads * d;
  Workspace ws;
  ws.max_tokens = max_tokens;
  ws.max_logits_rows = max_logits_rows;
  ws.hidden = backend_.alloc(a, {max_tokens, h});
  ws.residual = backend_.alloc(a, {max_tokens, h});
  ws.normed = backend_.alloc(a, {max_tokens, h});
  ws.qkv = backend_.alloc(a, {max_tokens, qkv_width});
  ws.q = backend_.alloc(a, {max_tokens, q_width});
  ws.attn = backend_.alloc(a, {max_tokens, q_width});
  ws.gate_up = backend_.alloc(a, {max_tokens, 2 * s.intermediate_size});
  ws.act = backend_.alloc(a, {max_tokens, s.intermediate_size});
  ws.last_hidden = backend_.alloc(a, {max_logits_rows, h});
  ws.logits = backend_.alloc(DType::kF32, {max_logits_rows, config_.vocab_size});
  if (!s.whole()) ws.shard_logits = backend_.alloc(DType::kF32, {max_logits_rows, s.vocab_rows});
  return ws;
}

size_t LlamaModel::workspace_bytes(int64_t max_tokens, int64_t max_logits_rows) const {
  const ModelShard& s = shard();
  const int64_t h = config_.hidden_size, d = config_.head_dim, q = s.num_q_heads * d;
  const int64_t qkv = q + 2 * s.num_kv_heads * d, inter = s.intermediate_size;
  const int64_t per_token = 3 * h + qkv + 2 * q + 3 * inter;
  // Tensor parallel: this rank's logits columns, and the communicator's buffer that
  // gathers every rank's before they are interleaved.
  const int64_t logits_cols = config_.vocab_size + (s.whole() ? 0 : (1 + s.size) * s.vocab_rows);
  return size_t(max_tokens * per_token + max_logits_rows * h) * dtype_size(backend_.activation_dtype()) +
         size_t(max_logits_rows * logits_cols) * sizeof(float);
}

std::vector<KvCacheLayer> LlamaModel::make_kv_cache(int64_t num_blocks, int64_t block_size) const {
  std::vector<KvCacheLayer> cache;
  const int64_t kv_heads = shard().num_kv_heads;
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    KvCacheLayer layer;
    layer.k = backend_.alloc(backend_.activation_dtype(), {num_blocks, block_size, kv_heads, config_.head_dim});
    layer.v = backend_.alloc(backend_.activation_dtype(), {num_blocks, block_size, kv_heads, config_.head_dim});
    cache.push_back(std::move(layer));
  }
  return cache;
}

size_t LlamaModel::kv_block_bytes(int64_t block_size) const {
  return size_t(2 * config_.num_hidden_layers * block_size * shard().num_kv_heads * config_.head_dim) *
         dtype_size(backend_.activation_dtype());
}

Tensor LlamaModel::forward(const ForwardInputs& in, const std::vector<KvCacheLayer>& kv_cache, Workspace& ws) const {
  const int64_t t = in.token_ids.numel(), rows = in.logits_indices.numel();
  TERN_CHECK(t > 0 && t <= ws.max_tokens, "step of ", t, " tokens, workspace holds ", ws.max_tokens);
  TERN_CHECK(rows <= ws.max_logits_rows, "step wants ", rows, " logits rows, workspace holds ", ws.max_logits_rows);
  TERN_CHECK(kv_cache.size() == weights_.layers.size());
  Backend& be = backend_;
  const float eps = float(config_.rms_norm_eps);
  Tensor hidden = ws.hidden.slice_rows(0, t), residual = ws.residual.slice_rows(0, t),
         normed = ws.normed.slice_rows(0, t), qkv = ws.qkv.slice_rows(0, t), q = ws.q.slice_rows(0, t),
         attn = ws.attn.slice_rows(0, t), gate_up = ws.gate_up.slice_rows(0, t), act = ws.act.slice_rows(0, t);
  // Tensor parallel: o_proj and down_proj leave partial sums of this rank's heads and
  // channels in `hidden`; the all-reduce completes them on every rank.
  const auto complete = [&](const Tensor& partial) {
    if (comm_) comm_->all_reduce_sum(partial);
  };

  // The residual stream lives in `residual`; `hidden` carries each block's output,
  // which add_rms_norm folds into the residual before normalising for the next block.
  if (comm_) {
    be.embedding_slice(in.token_ids, weights_.embed_tokens, shard().vocab_begin, residual);
    comm_->all_reduce_sum(residual);
  } else {
    be.embedding(in.token_ids, weights_.embed_tokens, residual);
  }
  for (size_t i = 0; i < weights_.layers.size(); ++i) {
    const LayerWeights& l = weights_.layers[i];
    if (i == 0) be.rms_norm(residual, l.input_norm, eps, normed);
    else be.add_rms_norm(residual, hidden, l.input_norm, eps, normed);
    be.linear(normed, l.qkv, qkv);
    const AttentionShape shape = attention_shape(int64_t(i));
    be.rope_kv_write(qkv, in.positions, in.slot_mapping, rope_, shape, kv_cache[i], q);
    be.paged_attention(q, kv_cache[i], in.attention, shape, attn);
    be.linear(attn, l.o_proj, hidden);
    complete(hidden);
    be.add_rms_norm(residual, hidden, l.post_attention_norm, eps, normed);
    be.linear(normed, l.gate_up, gate_up);
    be.silu_mul(gate_up, act);
    be.linear(act, l.down, hidden);
    complete(hidden);
  }
  if (rows == 0) return ws.logits.slice_rows(0, 0);
  be.add_rms_norm(residual, hidden, weights_.final_norm, eps, normed);
  Tensor last = ws.last_hidden.slice_rows(0, rows);
  be.gather_rows(normed, in.logits_indices, last);
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
