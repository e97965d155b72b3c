// Each rank's shard of the weights is exactly its slice of the whole model, for every kind
// of weight: Q/K/V and gate/up rows (and their biases) per part, o_proj and down_proj input
// columns (their biases on rank 0 only), vocabulary rows of the embedding and lm_head (the
// last rank's padded with zeros), whole norms; dense, GPTQ and AWQ alike, at odd sizes.
#include <gtest/gtest.h>

#include <cstring>

#include "backend/cpu/cpu_backend.h"
#include "model/safetensors.h"
#include "model/weights.h"
#include "tensor_parallel_fixture.h"
#include "test_support.h"

namespace tern {
namespace {

using namespace tp_test;
using testing::TempDir;

// Row `row` of a 2-D tensor (a 1-D tensor's element) as F32 values, dense or INT4.
std::vector<float> row_of(const Tensor& t, int64_t row) {
  std::vector<float> out(size_t(t.ndim == 1 ? 1 : t.cols()));
  read_as_f32(t, row * int64_t(out.size()), int64_t(out.size()), out.data());
  return out;
}

// The weight as F32 rows, whatever its storage.
Tensor as_f32(const LinearWeight& w) {
  return w.is_int4() ? dequantize_int4(w.int4) : convert_host(w.weight, DType::kF32);
}

std::vector<float> columns(const std::vector<float>& row, int64_t begin, int64_t end) {
  return {row.begin() + begin, row.begin() + end};
}

class WeightShards : public ::testing::TestWithParam<RandomModelSpec> {
 protected:
  void SetUp() override {
    write_random_model(dir_.path(), GetParam());
    config_ = load_model_config(dir_.path());
    store_ = std::make_unique<WeightStore>(WeightStore::open(dir_.path()));
    whole_ = load_weights(config_, *store_, backend_);
  }
  ModelWeights shard(int rank, int size) {
    return load_weights(config_, *store_, backend_, model_shard(config_, rank, size));
  }

  TempDir dir_;
  CpuBackend backend_{1};
  ModelConfig config_;
  std::unique_ptr<WeightStore> store_;
  ModelWeights whole_;
};

// Rows of a column-parallel layer: part p of the whole (rows_p each) contributes its
// rows [r rows_p / N, (r + 1) rows_p / N), parts stacked in order.
void expect_output_rows(const Tensor& whole, const Tensor& shard, const std::vector<int64_t>& part_rows, int rank,
                        int size, const char* what) {
  int64_t local = 0, first = 0;
  for (int64_t rows : part_rows) {
    const int64_t share = rows / size;
    for (int64_t j = 0; j < share; ++j)
      ASSERT_EQ(row_of(shard, local + j), row_of(whole, first + rank * share + j))
          << what << " rank " << rank << " of " << size << ", local row " << local + j;
    local += share;
    first += rows;
  }
  EXPECT_EQ(shard.ndim == 1 ? shard.numel() : shard.rows(), local) << what;
}

void expect_input_columns(const Tensor& whole, const Tensor& shard, int rank, int size, const char* what) {
  const int64_t share = whole.cols() / size;
  ASSERT_EQ(shard.cols(), share) << what;
  ASSERT_EQ(shard.rows(), whole.rows()) << what;
  for (int64_t i = 0; i < whole.rows(); ++i)
    ASSERT_EQ(row_of(shard, i), columns(row_of(whole, i), rank * share, (rank + 1) * share))
        << what << " rank " << rank << " of " << size << ", row " << i;
}

TEST_P(WeightShards, EachRankHoldsExactlyItsSliceOfEveryWeight) {
  const ModelConfig& c = config_;
  const int64_t d = c.head_dim, q = c.num_attention_heads * d, kv = c.num_key_value_heads * d;
  for (int size : {2, 4}) {
    for (int rank = 0; rank < size; ++rank) {
      SCOPED_TRACE("rank " + std::to_string(rank) + " of " + std::to_string(size));
      const ModelWeights w = shard(rank, size);
      EXPECT_EQ(w.shard.rank, rank);
      for (size_t layer = 0; layer < w.layers.size(); ++layer) {
        const LayerWeights& s = w.layers[layer];
        const LayerWeights& all = whole_.layers[layer];
        expect_output_rows(as_f32(all.qkv), as_f32(s.qkv), {q, kv, kv}, rank, size, "qkv");
        expect_output_rows(as_f32(all.gate_up), as_f32(s.gate_up), {c.intermediate_size, c.intermediate_size}, rank,
                           size, "gate_up");
        expect_input_columns(as_f32(all.o_proj), as_f32(s.o_proj), rank, size, "o_proj");
        expect_input_columns(as_f32(all.down), as_f32(s.down), rank, size, "down");
        EXPECT_EQ(s.qkv.bias.empty(), all.qkv.bias.empty());
        if (!all.qkv.bias.empty()) {
          expect_output_rows(all.qkv.bias, s.qkv.bias, {q, kv, kv}, rank, size, "qkv bias");
        }
        if (!all.gate_up.bias.empty()) {
          expect_output_rows(all.gate_up.bias, s.gate_up.bias, {c.intermediate_size, c.intermediate_size}, rank, size,
                             "gate_up bias");
        }
        // down's and o_proj's partial sums are added up by the all-reduce: their biases must
        // count once. Llama's attention_bias gives o_proj one, as transformers' LlamaAttention.
        EXPECT_EQ(all.o_proj.bias.empty(), c.model_type != "llama");
        for (const auto& [mine, whole] : {std::pair{&s.down, &all.down}, std::pair{&s.o_proj, &all.o_proj}}) {
          EXPECT_EQ(mine->bias.empty(), whole->bias.empty() || rank != 0);
          if (!mine->bias.empty()) EXPECT_EQ(mine->bias.data, whole->bias.data);
        }
        EXPECT_EQ(s.input_norm.data, all.input_norm.data) << "norms are whole on every rank (zero-copy on the CPU)";
        EXPECT_EQ(s.post_attention_norm.data, all.post_attention_norm.data);
      }
      EXPECT_EQ(w.final_norm.data, whole_.final_norm.data);
      // Vocabulary rows: ceil(V / N) per rank, the tail of the last rank zero.
      const int64_t rows = (c.vocab_size + size - 1) / size;
      for (const auto& [tensor, all, what] : {std::tuple{w.embed_tokens, whole_.embed_tokens, "embed_tokens"},
                                              std::tuple{w.lm_head.weight, whole_.lm_head.weight, "lm_head"}}) {
        ASSERT_EQ(tensor.rows(), rows) << what;
        for (int64_t i = 0; i < rows; ++i) {
          const int64_t id = rank * rows + i;
          const std::vector<float> want =
              id < c.vocab_size ? row_of(all, id) : std::vector<float>(size_t(c.hidden_size), 0.0f);
          ASSERT_EQ(row_of(tensor, i), want) << what << " row " << i << " (token id " << id << ")";
        }
      }
      if (c.tie_word_embeddings) {
        EXPECT_EQ(w.lm_head.weight.data, w.embed_tokens.data);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, WeightShards,
                         ::testing::Values(RandomModelSpec{},  // qwen2: Q/K/V biases, vocab 1001
                                           RandomModelSpec{.model_type = "llama",
                                                           .vocab_size = 999,
                                                           .hidden_size = 24,
                                                           .intermediate_size = 36,
                                                           .tie_word_embeddings = true},  // gate/up/down biases
                                           RandomModelSpec{.int4_group_size = 32},
                                           RandomModelSpec{
                                               .vocab_size = 1003, .int4_group_size = 32, .act_order = true},
                                           RandomModelSpec{.int4_group_size = -1},
                                           RandomModelSpec{.vocab_size = 1000, .int4_group_size = 32, .awq = true}),
                         [](const auto& info) {
                           const RandomModelSpec& s = info.param;
                           return s.model_type + "_v" + std::to_string(s.vocab_size) + "_g" +
                                  (s.int4_group_size < 0 ? std::string("row") : std::to_string(s.int4_group_size)) +
                                  (s.act_order ? "_act" : "") + (s.awq ? "_awq" : "");
                         });

}  // namespace
}  // namespace tern
