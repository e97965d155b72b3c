// One Llama-family decoder layer (Qwen2, Llama, Mistral): RMSNorm, attention over the
// paged KV cache, RMSNorm, SwiGLU MLP, each half added to the residual stream. Written
// once against the backend op table: LlamaModel::forward runs it for every layer of a
// step, and GPTQ calibration (src/quantize/) runs it layer by layer with an observer that
// records what each projection reads, so tern has a single decoder-layer forward.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "backend/backend.h"
#include "backend/communicator.h"
#include "model/config.h"
#include "model/tensor_parallel.h"
#include "model/weights.h"

namespace tern {

// The device inputs of one step. T tokens, S sequences; all I32.
struct ForwardInputs {
  Tensor token_ids;     // [T]
  Tensor positions;     // [T]
  Tensor slot_mapping;  // [T] KV slot of each token (negative: padding)
  AttentionMetadata attention;
  Tensor logits_indices;  // [S'] rows of the batch whose logits are wanted
};

// A layer's activations, each [T, width] in the backend's activation dtype. Widths are
// the rank's (its heads and MLP channels); residual, hidden and normed are whole rows.
struct LayerActivations {
  Tensor residual;  // [T, H] the residual stream
  Tensor hidden;    // [T, H] a half's output (o_proj, down_proj) not yet added to the stream
  Tensor normed;    // [T, H]
  Tensor qkv;       // [T, (Hq + 2 Hkv) * D]
  Tensor q;         // [T, Hq * D] after RoPE
  Tensor attn;      // [T, Hq * D]
  Tensor gate_up;   // [T, 2 I]
  Tensor act;       // [T, I]

  // Rows [0, t) of every buffer.
  LayerActivations first_rows(int64_t t) const;
};

// Buffers for steps of up to max_tokens tokens of `shard`'s part of the model.
LayerActivations alloc_layer_activations(Backend& backend, const ModelConfig& config, const ModelShard& shard,
                                         int64_t max_tokens);
// Bytes alloc_layer_activations allocates per token.
size_t layer_activation_bytes_per_token(const ModelConfig& config, const ModelShard& shard, DType activation_dtype);

// What every layer of one rank's model shares, derived once from the config.
struct DecoderLayerContext {
  Backend* backend = nullptr;
  Communicator* comm = nullptr;  // tensor parallel: completes o_proj's and down's partial sums
  float rms_norm_eps = 0.0f;
  Activation hidden_act = Activation::kSilu;  // the MLP gate's (config.json hidden_act)
  RopeParams rope;                            // inv_freq on the backend's device
  AttentionShape attention;                   // the rank's heads (sliding_window: see attention_windows)
  std::vector<int> attention_windows;         // per layer: its sliding window, 0 for full causal attention
};

// `comm` joins the ranks of a tensor-parallel group; null for a whole model.
DecoderLayerContext make_decoder_layer_context(const ModelConfig& config, const ModelShard& shard, Backend& backend,
                                               Communicator* comm);

// The linears of a layer, in the order they run. Q/K/V and gate/up are fused (one GEMM
// each), so kQkv's input is that of q_proj, k_proj and v_proj, and kGateUp's that of
// gate_proj and up_proj.
enum class Projection { kQkv, kOProj, kGateUp, kDown };

enum class ObserverReply {
  kContinue,   // run the rest of the layer
  kStopLayer,  // end the layer here: the caller needs nothing after this projection
};

// Sees the input of each projection ([T, in_features], on the backend) just before the
// projection runs. After kStopLayer the layer's outputs are left unfinished and must not
// be read.
using ProjectionObserver = std::function<ObserverReply(Projection projection, const Tensor& input)>;

// How the residual stream enters a layer.
enum class LayerInput {
  kResidual,            // `residual` holds it (the first layer, after the embedding)
  kResidualPlusHidden,  // residual + hidden: the layer's first norm adds the previous layer's output
};

// Runs decoder layer `layer` with weights `w` over the step's tokens (it reads
// in.positions, in.slot_mapping and in.attention), writing their K/V into `cache`. On
// return the stream entering the next layer is a.residual + a.hidden
// (LayerInput::kResidualPlusHidden). All of `a` has the step's T rows.
void run_decoder_layer(const DecoderLayerContext& c, int64_t layer, const LayerWeights& w, const KvCacheLayer& cache,
                       const ForwardInputs& in, LayerInput input, const LayerActivations& a,
                       const ProjectionObserver& observe = {});

// Layer `layer`'s attention: the rank's heads and the layer's sliding window.
AttentionShape layer_attention(const DecoderLayerContext& c, int64_t layer);

}  // namespace tern
