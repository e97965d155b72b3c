// The decoder layer and its projection observer, which GPTQ calibration relies on: run by
// hand layer after layer it is LlamaModel::forward bit for bit; the observer sees each
// projection's input in the order the projections run, [T, in_features]; and kStopLayer
// ends the layer before that projection runs.
#include "model/decoder_layer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "model/config.h"
#include "model/llama_model.h"
#include "model/safetensors.h"

namespace tern {
namespace {

constexpr int64_t kTokens = 21;  // two KV blocks, the second partly filled
constexpr int64_t kBlockSize = 16;

struct Seen {
  Projection projection;
  int64_t rows = 0, cols = 0;
  std::vector<float> input;
};

class DecoderLayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = std::string(TERN_TEST_DATA) + "/models/tiny-qwen2";
    config_ = load_model_config(dir);
    weights_ = load_weights(config_, WeightStore::open(dir), backend_);
    ids_.resize(kTokens);
    for (int32_t i = 0; i < int32_t(kTokens); ++i) ids_[size_t(i)] = (i * 37 + 11) % int32_t(config_.vocab_size);
    positions_.resize(kTokens);
    std::iota(positions_.begin(), positions_.end(), 0);
    in_.token_ids = view(ids_.data(), {kTokens});
    in_.positions = view(positions_.data(), {kTokens});
    in_.slot_mapping = in_.positions;
    in_.logits_indices = view(&last_row_, {1});
    in_.attention = AttentionMetadata{.num_seqs = 1,
                                      .max_query_len = int(kTokens),
                                      .max_seq_len = int(kTokens),
                                      .query_start = view(query_start_, {2}),
                                      .seq_lens = view(&seq_len_, {1}),
                                      .block_tables = view(block_table_, {1, 2})};
  }

  static Tensor view(int32_t* data, std::initializer_list<int64_t> shape) {
    return make_view(data, DType::kI32, Device::kCpu, shape);
  }

  std::vector<KvCacheLayer> kv_cache() { return LlamaModel(config_, weights_, backend_).make_kv_cache(2, kBlockSize); }

  CpuBackend backend_{1};
  ModelConfig config_;
  ModelWeights weights_;
  std::vector<int32_t> ids_, positions_;
  int32_t query_start_[2] = {0, int32_t(kTokens)}, seq_len_ = int32_t(kTokens), block_table_[2] = {0, 1};
  int32_t last_row_ = int32_t(kTokens) - 1;
  ForwardInputs in_;
};

TEST_F(DecoderLayerTest, LayersRunByHandAreTheForwardAndTheObserverSeesEveryProjectionInOrder) {
  const LlamaModel model(config_, weights_, backend_);
  std::vector<KvCacheLayer> model_cache = kv_cache();
  Workspace ws = model.make_workspace(kTokens, 1);
  const Tensor expected = model.forward(in_, model_cache, ws);

  const ModelShard whole = model_shard(config_, 0, 1);
  const DecoderLayerContext context = make_decoder_layer_context(config_, whole, backend_, nullptr);
  const LayerActivations a = alloc_layer_activations(backend_, config_, whole, kTokens);
  const std::vector<KvCacheLayer> cache = kv_cache();
  std::vector<Seen> seen;
  const ProjectionObserver record = [&](Projection p, const Tensor& input) {
    seen.push_back(
        {p, input.rows(), input.cols(), {input.ptr<const float>(), input.ptr<const float>() + input.numel()}});
    return ObserverReply::kContinue;
  };
  backend_.embedding(in_.token_ids, weights_.embed_tokens, a.residual);
  for (size_t i = 0; i < weights_.layers.size(); ++i)
    run_decoder_layer(context, int64_t(i), weights_.layers[i], cache[i], in_,
                      i == 0 ? LayerInput::kResidual : LayerInput::kResidualPlusHidden, a, record);
  backend_.add_rms_norm(a.residual, a.hidden, weights_.final_norm, float(config_.rms_norm_eps), a.normed);
  Tensor last = host_tensor(DType::kF32, {1, config_.hidden_size});
  backend_.gather_rows(a.normed, in_.logits_indices, last);
  Tensor logits = host_tensor(DType::kF32, {1, config_.vocab_size});
  backend_.linear(last, weights_.lm_head, logits);
  ASSERT_EQ(logits.numel(), expected.numel());
  for (int64_t v = 0; v < logits.numel(); ++v)
    ASSERT_EQ(logits.ptr<const float>()[v], expected.ptr<const float>()[v]) << "logit " << v;

  const int64_t q_width = config_.num_attention_heads * config_.head_dim;
  const Projection order[] = {Projection::kQkv, Projection::kOProj, Projection::kGateUp, Projection::kDown};
  const int64_t widths[] = {config_.hidden_size, q_width, config_.hidden_size, config_.intermediate_size};
  ASSERT_EQ(seen.size(), 4 * weights_.layers.size());
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].projection, order[i % 4]) << "call " << i;
    EXPECT_EQ(seen[i].rows, kTokens) << "call " << i;
    EXPECT_EQ(seen[i].cols, widths[i % 4]) << "call " << i;
  }
}

TEST_F(DecoderLayerTest, StopLayerEndsTheLayerBeforeThatProjection) {
  const ModelShard whole = model_shard(config_, 0, 1);
  const DecoderLayerContext context = make_decoder_layer_context(config_, whole, backend_, nullptr);
  const std::vector<KvCacheLayer> cache = kv_cache();
  const auto first_layer = [&](Projection stop_at, std::vector<Seen>& seen) {
    const LayerActivations a = alloc_layer_activations(backend_, config_, whole, kTokens);
    std::fill_n(a.act.ptr<float>(), a.act.numel(), -7.0f);
    backend_.embedding(in_.token_ids, weights_.embed_tokens, a.residual);
    run_decoder_layer(
        context, 0, weights_.layers[0], cache[0], in_, LayerInput::kResidual, a,
        [&](Projection p, const Tensor& input) {
          seen.push_back(
              {p, input.rows(), input.cols(), {input.ptr<const float>(), input.ptr<const float>() + input.numel()}});
          return p == stop_at ? ObserverReply::kStopLayer : ObserverReply::kContinue;
        });
    return a;
  };
  std::vector<Seen> whole_layer, stopped;
  first_layer(Projection::kDown, whole_layer);
  const LayerActivations a = first_layer(Projection::kGateUp, stopped);
  ASSERT_EQ(stopped.size(), 3u);
  EXPECT_EQ(stopped.back().projection, Projection::kGateUp);
  // What it saw is what the whole layer sees; gate_up and act_mul never ran.
  for (size_t i = 0; i < stopped.size(); ++i) EXPECT_EQ(stopped[i].input, whole_layer[i].input) << "call " << i;
  for (int64_t i = 0; i < a.act.numel(); ++i) ASSERT_EQ(a.act.ptr<const float>()[i], -7.0f);
}

}  // namespace
}  // namespace tern
