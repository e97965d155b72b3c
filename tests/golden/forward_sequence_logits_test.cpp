// SequenceLogits, the teacher-forced forward perplexity is built on, gives Hugging Face
// transformers' logits at every position of the golden prompts of the tiny models
// (tests/data/golden), whatever chunk size it computes them in, and one evaluator reused
// for sequences of different lengths sees nothing of the earlier ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../unit/test_support.h"
#include "model/load_model.h"
#include "model/safetensors.h"
#include "model/sequence_logits.h"

namespace tern {
namespace {

namespace fs = std::filesystem;
const fs::path kData = TERN_TEST_DATA;

struct GoldenPrompt {
  std::vector<int32_t> ids;
  Tensor logits;  // [len, vocab] F32 from transformers
};

std::vector<GoldenPrompt> golden_prompts(const std::string& model) {
  const nlohmann::json j = nlohmann::json::parse(std::ifstream(kData / "golden" / (model + ".json")));
  const SafetensorsFile logits = SafetensorsFile::open((kData / "golden" / (model + ".logits.safetensors")).string());
  std::vector<GoldenPrompt> out;
  for (size_t i = 0; i < j["cases"].size(); ++i)
    out.push_back(
        {j["cases"][i]["prompt_ids"].get<std::vector<int32_t>>(), logits.tensor("prompt_" + std::to_string(i))});
  return out;
}

class SequenceLogitsGolden : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = make_backend("cpu");
    model_ = load_model((kData / "models" / GetParam()).string(), *backend_);
  }
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<LlamaModel> model_;
};

TEST_P(SequenceLogitsGolden, EveryPositionMatchesTransformersInAnyChunkSize) {
  const int64_t vocab = model_->config().vocab_size;
  for (int64_t chunk : {1, 5, 512}) {
    SequenceLogits evaluator(*model_, 64, chunk);  // one evaluator for every prompt, longest first
    std::vector<GoldenPrompt> prompts = golden_prompts(GetParam());
    std::sort(prompts.begin(), prompts.end(), [](const auto& a, const auto& b) { return a.ids.size() > b.ids.size(); });
    for (const GoldenPrompt& p : prompts) {
      const std::vector<float> got = evaluator.all(p.ids);
      ASSERT_EQ(int64_t(got.size()), p.logits.numel());
      for (size_t pos = 0; pos < p.ids.size(); ++pos) {
        const float* want = p.logits.ptr<const float>() + pos * vocab;
        float max_ref = 0, max_err = 0;
        for (int64_t v = 0; v < vocab; ++v) {
          max_ref = std::max(max_ref, std::abs(want[v]));
          max_err = std::max(max_err, std::abs(got[pos * vocab + v] - want[v]));
        }
        ASSERT_LE(max_err, 1e-3f * std::max(1.0f, max_ref))
            << GetParam() << ", chunks of " << chunk << ", prompt of " << p.ids.size() << " tokens, position " << pos;
      }
    }
  }
}

TEST_P(SequenceLogitsGolden, ChunksReportConsecutivePositions) {
  SequenceLogits evaluator(*model_, 64, 4);
  const std::vector<int32_t> ids = golden_prompts(GetParam())[0].ids;
  std::vector<std::pair<int64_t, int64_t>> chunks;
  evaluator.run(ids, [&](int64_t first, const float*, int64_t rows) { chunks.emplace_back(first, rows); });
  int64_t next = 0;
  for (const auto& [first, rows] : chunks) {
    EXPECT_EQ(first, next);
    EXPECT_GE(rows, 1);
    EXPECT_LE(rows, 4);
    next = first + rows;
  }
  EXPECT_EQ(next, int64_t(ids.size()));
}

TEST_P(SequenceLogitsGolden, RejectsBadLengthsAndIds) {
  SequenceLogits evaluator(*model_, 8);
  const auto ignore = [](int64_t, const float*, int64_t) {};
  const int32_t vocab = int32_t(model_->config().vocab_size);
  testing::expect_contains(testing::error_of([&] { evaluator.run(std::vector<int32_t>(9, 1), ignore); }),
                           {"9 tokens", "1 to 8"});
  testing::expect_contains(testing::error_of([&] { evaluator.run(std::vector<int32_t>{}, ignore); }), {"0 tokens"});
  testing::expect_contains(testing::error_of([&] {
                             evaluator.run(std::vector<int32_t>{1, vocab, 2}, ignore);
                           }),
                           {"token id " + std::to_string(vocab), "position 1", "vocabulary"});
}

INSTANTIATE_TEST_SUITE_P(TinyModels, SequenceLogitsGolden,
                         ::testing::Values("tiny-qwen2", "tiny-llama3", "tiny-mistral", "tiny-qwen2-yarn",
                                           "tiny-llama-linear"));

}  // namespace
}  // namespace tern
