// How a model is divided among tensor-parallel ranks (model/tensor_parallel.h): each
// rank's heads, KV heads, MLP channels and vocabulary rows, and the sizes that cannot
// split a model, refused with the reason and the sizes that would work.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "model/config.h"
#include "model/tensor_parallel.h"
#include "test_support.h"

namespace tern {
namespace {

using testing::error_of;
using testing::expect_contains;

// Qwen2.5-7B's shapes.
nlohmann::json qwen7b() {
  return {{"architectures", {"Qwen2ForCausalLM"}},
          {"vocab_size", 152064},
          {"hidden_size", 3584},
          {"intermediate_size", 18944},
          {"num_hidden_layers", 28},
          {"num_attention_heads", 28},
          {"num_key_value_heads", 4},
          {"max_position_embeddings", 32768}};
}

ModelConfig parse(const nlohmann::json& j) { return parse_model_config(j, "config.json"); }

TEST(TensorParallelShard, Qwen7bOverTwoAndFourRanks) {
  const ModelConfig c = parse(qwen7b());
  const ModelShard two = model_shard(c, 1, 2);
  EXPECT_EQ(two.num_q_heads, 14);
  EXPECT_EQ(two.num_kv_heads, 2);
  EXPECT_EQ(two.intermediate_size, 9472);
  EXPECT_EQ(two.vocab_begin, 76032);
  EXPECT_EQ(two.vocab_rows, 76032);
  const ModelShard four = model_shard(c, 3, 4);
  EXPECT_EQ(four.num_q_heads, 7);
  EXPECT_EQ(four.num_kv_heads, 1);
  EXPECT_EQ(four.vocab_begin, 3 * 38016);
  EXPECT_EQ(four.vocab_end(c), 152064);
  const ModelShard whole = model_shard(c, 0, 1);
  EXPECT_TRUE(whole.whole());
  EXPECT_EQ(whole.vocab_rows, 152064);
}

TEST(TensorParallelShard, AnUnevenVocabularyPadsTheLastRank) {
  nlohmann::json j = qwen7b();
  j["vocab_size"] = 1001;
  const ModelConfig c = parse(j);
  const ModelShard last = model_shard(c, 3, 4);
  EXPECT_EQ(last.vocab_rows, 251);
  EXPECT_EQ(last.vocab_begin, 753);
  EXPECT_EQ(last.vocab_end(c), 1001) << "248 real rows, 3 of padding";
}

TEST(TensorParallelShard, SizesThatDoNotDivideTheModelAreRefused) {
  const ModelConfig c = parse(qwen7b());
  // 8 divides neither the 28 heads nor the 4 KV heads.
  expect_contains(error_of([&] { check_tensor_parallel_size(c, 8); }),
                  {"--tensor-parallel-size 8 does not divide the model's 4 KV heads", "sizes that fit this model: 1, 2, 4"});
  expect_contains(error_of([&] { check_tensor_parallel_size(c, 3); }), {"4 KV heads"});
  expect_contains(error_of([&] { check_tensor_parallel_size(c, 0); }), {"must be in [1, 64]"});
  nlohmann::json j = qwen7b();
  j["num_key_value_heads"] = 28;
  j["intermediate_size"] = 18942;
  expect_contains(error_of([&] { check_tensor_parallel_size(parse(j), 4); }),
                  {"does not divide the model's 18942 MLP channels (intermediate_size)"});
}

TEST(TensorParallelShard, Int4PlainGroupsMustSplitAtGroupBoundaries) {
  nlohmann::json j = qwen7b();
  j["num_key_value_heads"] = 28;  // so that 8 passes the head checks
  j["quantization_config"] = {{"quant_method", "gptq"}, {"bits", 4}, {"group_size", 128}, {"desc_act", false}};
  // 18944 = 148 groups of 128: 2 and 4 ranks get whole groups, 8 ranks 18.5 groups each.
  check_tensor_parallel_size(parse(j), 4);
  j["num_attention_heads"] = 32;
  j["num_key_value_heads"] = 8;
  j["hidden_size"] = 4096;
  expect_contains(error_of([&] { check_tensor_parallel_size(parse(j), 8); }),
                  {"INT4 down_proj cannot be split", "input columns [2368, 4736) of 18944",
                   "groups of 128", "divides 148"});
  j["quantization_config"]["desc_act"] = true;  // act-order keeps every group on every rank
  check_tensor_parallel_size(parse(j), 8);
}

}  // namespace
}  // namespace tern
