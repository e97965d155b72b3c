#include "quantize/gptq_calibration.h"

#include <algorithm>
#include <optional>

#include "base/error.h"

namespace tern {
namespace {

constexpr int64_t kBlockSize = 16;  // KV cache block of the calibration steps

void copy_rows(const Tensor& src, const Tensor& dst) {
  std::copy_n(src.ptr<const float>(), src.numel(), dst.ptr<float>());
}

}  // namespace

GptqCalibration::GptqCalibration(const ModelConfig& config, const WeightStore& store, Backend& backend,
                                 std::vector<std::vector<int32_t>> sequences)
    : backend_(backend), sequences_(std::move(sequences)) {
  if (backend_.device() != Device::kCpu || backend_.activation_dtype() != DType::kF32)
    throw error("GPTQ calibration runs on the CPU backend, not '", backend_.name(), "'");
  const ModelShard whole = model_shard(config, 0, 1);
  context_ = make_decoder_layer_context(config, whole, backend_, nullptr);
  int64_t total = 0, longest = 0;
  for (const auto& s : sequences_) {
    starts_.push_back(total);
    total += int64_t(s.size());
    longest = std::max(longest, int64_t(s.size()));
  }
  stream_residual_ = backend_.alloc(DType::kF32, {total, config.hidden_size});
  stream_hidden_ = backend_.alloc(DType::kF32, {total, config.hidden_size});
  scratch_ = alloc_layer_activations(backend_, config, whole, longest);
  const int64_t blocks = (longest + kBlockSize - 1) / kBlockSize;
  cache_.k = backend_.alloc(DType::kF32, {blocks, kBlockSize, config.num_key_value_heads, config.head_dim});
  cache_.v = backend_.alloc(DType::kF32, {blocks, kBlockSize, config.num_key_value_heads, config.head_dim});
  positions_.resize(size_t(longest));
  for (int32_t i = 0; i < int32_t(longest); ++i) positions_[size_t(i)] = i;
  block_table_.resize(size_t(blocks));
  for (int32_t b = 0; b < int32_t(blocks); ++b) block_table_[size_t(b)] = b;

  const Tensor embed = store.get("model.embed_tokens.weight");
  for (size_t s = 0; s < sequences_.size(); ++s) {
    const int64_t t = int64_t(sequences_[s].size());
    const Tensor ids = make_view(sequences_[s].data(), DType::kI32, Device::kCpu, {t});
    backend_.embedding(ids, embed, stream_residual_.slice_rows(starts_[s], starts_[s] + t));
  }
}

HessianAccumulator GptqCalibration::hessian(const LayerWeights& w, Projection projection) {
  std::optional<HessianAccumulator> h;
  const ProjectionObserver observe = [&](Projection p, const Tensor& input) {
    if (p != projection) return ObserverReply::kContinue;
    if (!h) h.emplace(input.cols());
    h->add(input);
    return ObserverReply::kStopLayer;
  };
  for (size_t s = 0; s < sequences_.size(); ++s) run_layer(s, w, copy_of_stream(s), observe);
  TERN_CHECK(h.has_value(), "GPTQ calibration without tokens");
  return std::move(*h);
}

void GptqCalibration::advance(const LayerWeights& w) {
  for (size_t s = 0; s < sequences_.size(); ++s) run_layer(s, w, stream_rows(s), {});
  ++layer_;
}

LayerActivations GptqCalibration::copy_of_stream(size_t s) const {
  const LayerActivations stream = stream_rows(s);
  LayerActivations a = scratch_.first_rows(stream.residual.rows());
  copy_rows(stream.residual, a.residual);
  if (layer_ > 0) copy_rows(stream.hidden, a.hidden);
  return a;
}

LayerActivations GptqCalibration::stream_rows(size_t s) const {
  const int64_t first = starts_[s], t = int64_t(sequences_[s].size());
  LayerActivations a = scratch_.first_rows(t);
  a.residual = stream_residual_.slice_rows(first, first + t);
  a.hidden = stream_hidden_.slice_rows(first, first + t);
  return a;
}

void GptqCalibration::run_layer(size_t s, const LayerWeights& w, const LayerActivations& a,
                                const ProjectionObserver& observe) {
  const int64_t t = int64_t(sequences_[s].size());
  query_start_[1] = int32_t(t);
  seq_len_ = int32_t(t);
  ForwardInputs in;
  in.positions = make_view(positions_.data(), DType::kI32, Device::kCpu, {t});
  in.slot_mapping = in.positions;  // the sequence fills the cache from slot 0
  in.attention = AttentionMetadata{
      .num_seqs = 1,
      .max_query_len = int(t),
      .max_seq_len = int(t),
      .query_start = make_view(query_start_, DType::kI32, Device::kCpu, {2}),
      .seq_lens = make_view(&seq_len_, DType::kI32, Device::kCpu, {1}),
      .block_tables = make_view(block_table_.data(), DType::kI32, Device::kCpu, {1, int64_t(block_table_.size())})};
  run_decoder_layer(context_, layer_, w, cache_, in,
                    layer_ == 0 ? LayerInput::kResidual : LayerInput::kResidualPlusHidden, a, observe);
}

}  // namespace tern
