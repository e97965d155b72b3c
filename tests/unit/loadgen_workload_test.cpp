// Benchmark prompts: exact token lengths with a tokenizer (the demo model's), shared
// prefixes, length ranges, approximate text without one, ShareGPT files, determinism.
#include "loadgen/workload.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "base/error.h"
#include "test_support.h"

namespace tern::loadgen {
namespace {

const Tokenizer& demo_tokenizer() {
  static const std::shared_ptr<const Tokenizer> tok = Tokenizer::load(TERN_SOURCE_DIR "/models/tern-demo");
  return *tok;
}

TEST(Workload, TokenIdPromptsHaveExactlyTheLengthsAskedForAndNoSpecialTokens) {
  const auto prompts = make_workload({.num_prompts = 20, .input_len = 50, .output_len = 7, .token_ids = true},
                                     &demo_tokenizer());
  ASSERT_EQ(prompts.size(), 20u);
  for (const BenchPrompt& p : prompts) {
    EXPECT_EQ(p.token_ids.size(), 50u);
    EXPECT_EQ(p.num_prompt_tokens, 50);
    EXPECT_EQ(p.max_tokens, 7);
    EXPECT_TRUE(p.text.empty());
    for (int32_t id : p.token_ids) {
      EXPECT_TRUE(id >= 0 && id < demo_tokenizer().vocab_size() && !demo_tokenizer().is_special(id)) << id;
    }
  }
  EXPECT_NE(prompts[0].token_ids, prompts[1].token_ids);
}

TEST(Workload, TextPromptsEncodeToTheirRecordedLength) {
  const auto prompts = make_workload({.num_prompts = 20, .input_len = 64, .output_len = 8}, &demo_tokenizer());
  int exact = 0;
  for (const BenchPrompt& p : prompts) {
    EXPECT_TRUE(p.token_ids.empty());
    EXPECT_EQ(p.num_prompt_tokens, static_cast<int32_t>(demo_tokenizer().encode(p.text, false).size()));
    exact += p.num_prompt_tokens == 64;
  }
  EXPECT_EQ(exact, 20) << "decode / re-encode / trim converges for the demo tokenizer";
}

TEST(Workload, ASharedPrefixStartsEveryPrompt) {
  const auto prompts = make_workload(
      {.num_prompts = 5, .input_len = 10, .output_len = 4, .shared_prefix_len = 32, .token_ids = true},
      &demo_tokenizer());
  for (const BenchPrompt& p : prompts) {
    ASSERT_EQ(p.token_ids.size(), 42u);
    EXPECT_TRUE(std::equal(p.token_ids.begin(), p.token_ids.begin() + 32, prompts[0].token_ids.begin()));
  }
  EXPECT_FALSE(std::equal(prompts[0].token_ids.begin() + 32, prompts[0].token_ids.end(),
                          prompts[1].token_ids.begin() + 32));
}

TEST(Workload, RangeRatioDrawsLengthsAroundTheMean) {
  const auto prompts = make_workload(
      {.num_prompts = 200, .input_len = 100, .output_len = 40, .range_ratio = 0.5, .token_ids = true},
      &demo_tokenizer());
  std::set<size_t> inputs;
  std::set<int32_t> outputs;
  for (const BenchPrompt& p : prompts) {
    EXPECT_GE(p.token_ids.size(), 50u);
    EXPECT_LE(p.token_ids.size(), 150u);
    EXPECT_GE(p.max_tokens, 20);
    EXPECT_LE(p.max_tokens, 60);
    inputs.insert(p.token_ids.size());
    outputs.insert(p.max_tokens);
  }
  EXPECT_GT(inputs.size(), 30u);
  EXPECT_GT(outputs.size(), 15u);
}

TEST(Workload, WithoutATokenizerPromptsAreWordsOfUnknownTokenCount) {
  const auto prompts = make_workload({.num_prompts = 3, .input_len = 12, .output_len = 5}, nullptr);
  for (const BenchPrompt& p : prompts) {
    EXPECT_EQ(std::count(p.text.begin(), p.text.end(), ' '), 11);
    EXPECT_EQ(p.num_prompt_tokens, 0);
  }
  EXPECT_THROW(make_workload({.token_ids = true}, nullptr), Error);
}

TEST(Workload, TheSeedFixesThePrompts) {
  const WorkloadSpec spec{.num_prompts = 4, .seed = 9, .input_len = 30, .range_ratio = 0.3, .token_ids = true};
  const auto a = make_workload(spec, &demo_tokenizer());
  const auto b = make_workload(spec, &demo_tokenizer());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].token_ids, b[i].token_ids);
    EXPECT_EQ(a[i].max_tokens, b[i].max_tokens);
  }
  WorkloadSpec other = spec;
  other.seed = 10;
  EXPECT_NE(make_workload(other, &demo_tokenizer())[0].token_ids, a[0].token_ids);
}

class ShareGptWorkload : public ::testing::Test {
 protected:
  std::string write(const nlohmann::json& data) { return dir_.write("sharegpt.json", data.dump()); }
  testing::TempDir dir_;
};

TEST_F(ShareGptWorkload, TakesTheFirstTurnAsPromptAndTheReplysLengthAsOutput) {
  const std::string path = write(nlohmann::json::parse(R"([
    {"id": "a", "conversations": [{"from": "human", "value": "What is 12 plus 30? Please answer."},
                                  {"from": "gpt", "value": "12 plus 30 is 42, as you can check."}]},
    {"id": "too short", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]},
    {"id": "one turn", "conversations": [{"from": "human", "value": "Is anyone there at all?"}]},
    {"id": "b", "conversation": [{"role": "user", "content": "Name three colours of the rainbow."},
                                 {"role": "assistant", "content": "Red, orange and yellow are three of them."}]}
  ])"));
  const Tokenizer& tok = demo_tokenizer();
  const auto prompts = make_workload({.num_prompts = 6, .dataset_path = path}, &tok);
  ASSERT_EQ(prompts.size(), 6u) << "two usable conversations, cycled";
  std::set<std::string> texts;
  for (const BenchPrompt& p : prompts) {
    texts.insert(p.text);
    EXPECT_EQ(p.num_prompt_tokens, static_cast<int32_t>(tok.encode(p.text, false).size()));
    const std::string reply = p.text.starts_with("What") ? "12 plus 30 is 42, as you can check."
                                                          : "Red, orange and yellow are three of them.";
    EXPECT_EQ(p.max_tokens, static_cast<int32_t>(tok.encode(reply, false).size()));
  }
  EXPECT_EQ(texts, (std::set<std::string>{"What is 12 plus 30? Please answer.", "Name three colours of the rainbow."}));

  const auto fixed = make_workload({.num_prompts = 2, .dataset_path = path, .dataset_output_len = 33}, &tok);
  EXPECT_EQ(fixed[0].max_tokens, 33);
  EXPECT_THROW(make_workload({.num_prompts = 2, .dataset_path = path}, nullptr), Error)
      << "no tokenizer and no output length: the reply lengths are unknown";
  EXPECT_EQ(make_workload({.num_prompts = 2, .dataset_path = path, .dataset_output_len = 5}, nullptr)[0].max_tokens, 5);
}

TEST_F(ShareGptWorkload, AFileWithNothingUsableIsAnError) {
  EXPECT_THROW(make_workload({.dataset_path = write(nlohmann::json::object())}, &demo_tokenizer()), Error);
  EXPECT_THROW(make_workload({.dataset_path = write(nlohmann::json::array())}, &demo_tokenizer()), Error);
  EXPECT_THROW(make_workload({.dataset_path = dir_.file("missing.json")}, &demo_tokenizer()), Error);
}

}  // namespace
}  // namespace tern::loadgen
