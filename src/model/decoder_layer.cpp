#include "model/decoder_layer.h"

#include <algorithm>
#include <cmath>

#include "model/rope.h"

namespace tern {
namespace {

// The widths of a layer's activations on one rank.
struct LayerWidths {
  int64_t hidden, qkv, q, intermediate;
};

LayerWidths layer_widths(const ModelConfig& config, const ModelShard& shard) {
  const int64_t q = shard.num_q_heads * config.head_dim;
  return {.hidden = config.hidden_size,
          .qkv = q + 2 * shard.num_kv_heads * config.head_dim,
          .q = q,
          .intermediate = shard.intermediate_size};
}

// Whether the observer ends the layer before `projection` runs.
bool stop_before(const ProjectionObserver& observe, Projection projection, const Tensor& input) {
  return observe && observe(projection, input) == ObserverReply::kStopLayer;
}

}  // namespace

LayerActivations LayerActivations::first_rows(int64_t t) const {
  return {.residual = residual.slice_rows(0, t),
          .hidden = hidden.slice_rows(0, t),
          .normed = normed.slice_rows(0, t),
          .qkv = qkv.slice_rows(0, t),
          .q = q.slice_rows(0, t),
          .attn = attn.slice_rows(0, t),
          .gate_up = gate_up.slice_rows(0, t),
          .act = act.slice_rows(0, t)};
}

LayerActivations alloc_layer_activations(Backend& backend, const ModelConfig& config, const ModelShard& shard,
                                         int64_t max_tokens) {
  const DType a = backend.activation_dtype();
  const LayerWidths w = layer_widths(config, shard);
  return {.residual = backend.alloc(a, {max_tokens, w.hidden}),
          .hidden = backend.alloc(a, {max_tokens, w.hidden}),
          .normed = backend.alloc(a, {max_tokens, w.hidden}),
          .qkv = backend.alloc(a, {max_tokens, w.qkv}),
          .q = backend.alloc(a, {max_tokens, w.q}),
          .attn = backend.alloc(a, {max_tokens, w.q}),
          .gate_up = backend.alloc(a, {max_tokens, 2 * w.intermediate}),
          .act = backend.alloc(a, {max_tokens, w.intermediate})};
}

size_t layer_activation_bytes_per_token(const ModelConfig& config, const ModelShard& shard, DType activation_dtype) {
  const LayerWidths w = layer_widths(config, shard);
  return size_t(3 * w.hidden + w.qkv + 2 * w.q + 3 * w.intermediate) * dtype_size(activation_dtype);
}

DecoderLayerContext make_decoder_layer_context(const ModelConfig& config, const ModelShard& shard, Backend& backend,
                                               Communicator* comm) {
  DecoderLayerContext c{
      .backend = &backend, .comm = comm, .rms_norm_eps = float(config.rms_norm_eps), .hidden_act = config.hidden_act};
  RopeInit init = compute_rope(config);
  Tensor inv_freq = host_tensor(DType::kF32, {int64_t(init.inv_freq.size())});
  std::copy(init.inv_freq.begin(), init.inv_freq.end(), inv_freq.ptr<float>());
  c.rope.inv_freq = backend.upload(inv_freq, DType::kF32);
  c.rope.attention_scaling = init.attention_scaling;
  c.attention = AttentionShape{.num_q_heads = int(shard.num_q_heads),
                               .num_kv_heads = int(shard.num_kv_heads),
                               .head_dim = int(config.head_dim),
                               .scale = float(1.0 / std::sqrt(double(config.head_dim)))};
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer)
    c.attention_windows.push_back(int(config.attention_window(layer)));
  return c;
}

AttentionShape layer_attention(const DecoderLayerContext& c, int64_t layer) {
  AttentionShape shape = c.attention;
  shape.sliding_window = c.attention_windows.at(size_t(layer));
  return shape;
}

void run_decoder_layer(const DecoderLayerContext& c, int64_t layer, const LayerWeights& w, const KvCacheLayer& cache,
                       const ForwardInputs& in, LayerInput input, const LayerActivations& a,
                       const ProjectionObserver& observe) {
  Backend& be = *c.backend;
  const float eps = c.rms_norm_eps;
  // Tensor parallel: o_proj and down_proj leave partial sums of this rank's heads and
  // channels in `hidden`; the all-reduce completes them on every rank.
  const auto complete = [&](const Tensor& partial) {
    if (c.comm) c.comm->all_reduce_sum(partial);
  };

  if (input == LayerInput::kResidual)
    be.rms_norm(a.residual, w.input_norm, eps, a.normed);
  else
    be.add_rms_norm(a.residual, a.hidden, w.input_norm, eps, a.normed);
  if (stop_before(observe, Projection::kQkv, a.normed)) return;
  be.linear(a.normed, w.qkv, a.qkv);
  const AttentionShape attention = layer_attention(c, layer);
  be.rope_kv_write(a.qkv, in.positions, in.slot_mapping, c.rope, attention, cache, a.q);
  be.paged_attention(a.q, cache, in.attention, attention, a.attn);
  if (stop_before(observe, Projection::kOProj, a.attn)) return;
  be.linear(a.attn, w.o_proj, a.hidden);
  complete(a.hidden);
  // The attention half's output joins the stream; `hidden` then carries the MLP's.
  be.add_rms_norm(a.residual, a.hidden, w.post_attention_norm, eps, a.normed);
  if (stop_before(observe, Projection::kGateUp, a.normed)) return;
  be.linear(a.normed, w.gate_up, a.gate_up);
  be.act_mul(a.gate_up, a.act, c.hidden_act);
  if (stop_before(observe, Projection::kDown, a.act)) return;
  be.linear(a.act, w.down, a.hidden);
  complete(a.hidden);
}

}  // namespace tern
