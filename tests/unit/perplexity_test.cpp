// Perplexity (model/perplexity.h) against references the test computes itself: a
// log-softmax of Hugging Face's golden logits when one window holds the whole prompt, and
// Hugging Face's sliding-window recipe, written out loop for loop, when it does not.
#include "model/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/load_model.h"
#include "model/safetensors.h"
#include "test_support.h"

namespace tern {
namespace {

namespace fs = std::filesystem;
const fs::path kData = TERN_TEST_DATA;

// -log p(target) from a row of logits, written independently of token_nll.
double reference_nll(const float* logits, int64_t vocab, int32_t target) {
  double z = 0;
  for (int64_t v = 0; v < vocab; ++v) z += std::exp(double(logits[v]));
  return -std::log(std::exp(double(logits[target])) / z);
}

TEST(TokenNll, IsTheNegativeLogSoftmaxOfTheTarget) {
  const float logits[3] = {1.0f, 2.0f, 3.0f};
  // -log(e^1 / (e^1 + e^2 + e^3)) = log(1 + e + e^2)
  EXPECT_NEAR(token_nll(logits, 3, 0), std::log(1 + std::exp(1.0) + std::exp(2.0)), 1e-12);
  EXPECT_NEAR(token_nll(logits, 3, 2), std::log(1 + std::exp(-1.0) + std::exp(-2.0)), 1e-12);
  const float huge[2] = {1000.0f, 999.0f};  // no overflow
  EXPECT_NEAR(token_nll(huge, 2, 1), std::log(1 + std::exp(1.0)), 1e-9);
}

class Perplexity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = make_backend("cpu");
    model_ = load_model((kData / "models" / GetParam()).string(), *backend_);
    vocab_ = model_->config().vocab_size;
    const nlohmann::json j = nlohmann::json::parse(std::ifstream(kData / "golden" / (GetParam() + ".json")));
    ids_ = j["cases"][3]["prompt_ids"].get<std::vector<int32_t>>();  // 37 tokens
    golden_logits_ =
        SafetensorsFile::open((kData / "golden" / (GetParam() + ".logits.safetensors")).string()).tensor("prompt_3");
  }
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<LlamaModel> model_;
  int64_t vocab_ = 0;
  std::vector<int32_t> ids_;
  Tensor golden_logits_;
};

TEST_P(Perplexity, OneWindowEqualsTheLogSoftmaxOfTransformersLogits) {
  double want = 0;
  for (size_t i = 1; i < ids_.size(); ++i)
    want += reference_nll(golden_logits_.ptr<const float>() + (i - 1) * vocab_, vocab_, ids_[i]);
  SequenceLogits evaluator(*model_, 64);
  const NllSum got = document_nll(evaluator, ids_, 1, PerplexityWindow{.context = 64, .stride = 32});
  EXPECT_EQ(got.tokens, int64_t(ids_.size()) - 1);
  EXPECT_NEAR(got.nll, want, 1e-3 * want);
  EXPECT_NEAR(got.perplexity(), std::exp(want / double(ids_.size() - 1)), 1e-3 * got.perplexity());
}

// Per token i >= 1, its NLL as transformers' "Perplexity of fixed-length models" recipe
// scores it: windows start every stride tokens, the last trg_len tokens of each are its
// targets, and the model shifts the labels by one. Entry 0 is NaN (never scored).
std::vector<double> recipe_nll(SequenceLogits& evaluator, const std::vector<int32_t>& ids, PerplexityWindow w) {
  const int64_t n = int64_t(ids.size()), vocab = evaluator.vocab_size();
  std::vector<double> nll(ids.size(), std::nan(""));
  int64_t prev_end = 0;
  for (int64_t begin = 0; begin < n; begin += w.stride) {
    const int64_t end = std::min(begin + w.context, n), trg_len = end - prev_end, len = end - begin;
    const std::vector<int32_t> window(ids.begin() + begin, ids.begin() + end);
    const std::vector<float> logits = evaluator.all(window);  // a fresh forward of the window alone
    for (int64_t j = std::max<int64_t>(1, len - trg_len); j < len; ++j) {
      EXPECT_TRUE(std::isnan(nll[size_t(begin + j)])) << "token " << begin + j << " scored twice";
      nll[size_t(begin + j)] = reference_nll(logits.data() + (j - 1) * vocab, vocab, window[size_t(j)]);
    }
    prev_end = end;
    if (end == n) break;
  }
  return nll;
}

TEST_P(Perplexity, SlidingWindowsFollowTheHuggingFaceRecipe) {
  SequenceLogits evaluator(*model_, 64);
  for (const PerplexityWindow w : {PerplexityWindow{8, 3}, PerplexityWindow{8, 8}, PerplexityWindow{10, 1}}) {
    const std::vector<double> per_token = recipe_nll(evaluator, ids_, w);
    double want = 0;
    int64_t want_tokens = 0;
    for (double nll : per_token) {
      if (std::isnan(nll)) continue;
      want += nll;
      ++want_tokens;
    }
    // Every token but the first, except that disjoint windows (stride == context) cannot
    // score their first token, which has no prefix inside the window.
    EXPECT_EQ(want_tokens,
              int64_t(ids_.size()) - 1 - (w.stride == w.context ? (int64_t(ids_.size()) - 1) / w.stride : 0));
    const NllSum got = document_nll(evaluator, ids_, 1, w);
    EXPECT_EQ(got.tokens, want_tokens) << "context " << w.context << ", stride " << w.stride;
    EXPECT_NEAR(got.nll, want, 1e-6 * want) << "context " << w.context << ", stride " << w.stride;
  }
}

TEST_P(Perplexity, ShorterWindowsSeeLessContext) {
  // Random weights still use context: cutting every token's prefix to at most 4 tokens
  // changes the total (a window bug that ignored the prefix would not).
  SequenceLogits evaluator(*model_, 64);
  const double full = document_nll(evaluator, ids_, 1, {.context = 64, .stride = 64}).nll;
  const double short_windows = document_nll(evaluator, ids_, 1, {.context = 5, .stride = 1}).nll;
  EXPECT_GT(std::abs(full - short_windows), 1e-3 * full);
}

TEST_P(Perplexity, FirstScoredLeavesThePromptOut) {
  SequenceLogits evaluator(*model_, 64);
  const PerplexityWindow w{.context = 16, .stride = 8};
  const std::vector<double> per_token = recipe_nll(evaluator, ids_, w);
  double want = 0;
  for (size_t i = 30; i < per_token.size(); ++i) want += per_token[i];  // stride < context: all scored
  const NllSum tail = document_nll(evaluator, ids_, 30, w);
  EXPECT_EQ(tail.tokens, int64_t(ids_.size()) - 30);
  EXPECT_NEAR(tail.nll, want, 1e-6 * want);
  EXPECT_EQ(document_nll(evaluator, ids_, int64_t(ids_.size()), w).tokens, 0);
  EXPECT_EQ(document_nll(evaluator, std::vector<int32_t>{5}, 1, w).tokens, 0);
}

TEST_P(Perplexity, BadWindowsAndIdsAreErrors) {
  SequenceLogits evaluator(*model_, 16);
  using testing::error_of, testing::expect_contains;
  expect_contains(error_of([&] { document_nll(evaluator, ids_, 1, {.context = 32, .stride = 8}); }),
                  {"context 32", "between 2 and 16"});
  expect_contains(error_of([&] { document_nll(evaluator, ids_, 1, {.context = 16, .stride = 17}); }),
                  {"stride 17", "between 1 and the context 16"});
  expect_contains(
      error_of([&] {
        document_nll(evaluator, std::vector<int32_t>{1, 2, int32_t(vocab_)}, 1, {.context = 16, .stride = 8});
      }),
      {"token id " + std::to_string(vocab_), "position 2"});
}

INSTANTIATE_TEST_SUITE_P(TinyModels, Perplexity, ::testing::Values("tiny-qwen2", "tiny-llama3"));

}  // namespace
}  // namespace tern
