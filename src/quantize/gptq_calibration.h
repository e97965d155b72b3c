// GPTQ's calibration pass: the model's own decoder layer (model/decoder_layer.h) runs over
// calibration token sequences on the CPU backend, one layer at a time, while an observer
// accumulates the Hessian of one projection's inputs. It is "true sequential" as in
// AutoGPTQ: the caller quantises a layer's projections in the order they run, and takes
// each Hessian with the projections before it already quantised. Only the residual stream
// of the calibration tokens and one sequence's activations are held, so a 7B model fits
// in host memory. Each sequence is its own step: attention never crosses sequences.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/decoder_layer.h"
#include "model/safetensors.h"
#include "model/weights.h"
#include "quant/gptq.h"

namespace tern {

class GptqCalibration {
 public:
  // Embeds the sequences with the store's model.embed_tokens.weight; the first layer is
  // current. `backend` must be the CPU backend: the Hessians are taken from host F32 rows.
  GptqCalibration(const ModelConfig& config, const WeightStore& store, Backend& backend,
                  std::vector<std::vector<int32_t>> sequences);

  int64_t num_tokens() const { return stream_residual_.rows(); }

  // The Hessian of what `projection` of the current layer reads over every calibration
  // token, running the layer with `w` up to that projection: `w` needs its norms and the
  // projections that run before `projection`, and nothing else. The stream is unchanged.
  HessianAccumulator hessian(const LayerWeights& w, Projection projection);

  // Runs the current layer with `w` (every projection set) over the stream, which then
  // enters the next layer.
  void advance(const LayerWeights& w);

 private:
  // Sequence s's activations in the scratch buffers, with a copy of its stream rows.
  LayerActivations copy_of_stream(size_t s) const;
  // Sequence s's activations with the stream rows themselves, for the layer to update.
  LayerActivations stream_rows(size_t s) const;
  void run_layer(size_t s, const LayerWeights& w, const LayerActivations& a, const ProjectionObserver& observe);

  Backend& backend_;
  std::vector<std::vector<int32_t>> sequences_;
  std::vector<int64_t> starts_;  // first stream row of each sequence
  DecoderLayerContext context_;
  int64_t layer_ = 0;  // the current layer
  // The stream entering the current layer over all calibration tokens, [tokens, H] F32:
  // residual, plus (after the first layer) hidden, the previous layer's output.
  Tensor stream_residual_, stream_hidden_;
  LayerActivations scratch_;  // [longest sequence, ...]
  KvCacheLayer cache_;        // one sequence: slot = position
  std::vector<int32_t> positions_, block_table_;
  int32_t query_start_[2] = {0, 0};
  int32_t seq_len_ = 0;
};

}  // namespace tern
