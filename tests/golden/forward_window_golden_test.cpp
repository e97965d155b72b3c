// Sliding-window attention against Hugging Face transformers on tiny-mistral-window (made
// by tools/make_mistral_window_fixture.py): a tiny Mistral whose every layer attends over
// the last 8 keys, with HF's fp32 logits on prompts of up to 40 tokens. forward_golden_test
// checks its logits (one prefill step) and greedy continuations like every tiny model's;
// this test checks that the fixture exercises the window, and the logits of a prefill in
// chunks of 5 tokens, which cross the window's edge inside a step and between steps:
// they match HF with the window, and leave HF past position 8 without it.
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
const std::string kName = "tiny-mistral-window";
constexpr int kWindow = 8;

struct Case {
  std::vector<int32_t> ids;
  Tensor logits;  // [len, vocab] F32 from HF
};

class ForwardWindowGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path golden = kData / "golden" / (kName + ".json");
    if (!fs::exists(golden) || !fs::exists(kData / "models" / kName / "config.json"))
      GTEST_SKIP() << "fixture " << kName << " is missing (tests/data/golden/" << kName
                   << ".json and tests/data/models/" << kName
                   << "/): make it with tools/make_mistral_window_fixture.py where transformers is installed";
    const nlohmann::json j = nlohmann::json::parse(std::ifstream(golden));
    logits_file_ = std::make_unique<SafetensorsFile>(
        SafetensorsFile::open((kData / "golden" / (kName + ".logits.safetensors")).string()));
    for (size_t i = 0; i < j["cases"].size(); ++i)
      cases_.push_back({j["cases"][i]["prompt_ids"].get<std::vector<int32_t>>(),
                        logits_file_->tensor("prompt_" + std::to_string(i))});
  }

  // The largest |tern - HF| over positions [first, last) of every case, relative to the
  // largest |HF logit| there (at least 1).
  static float relative_error(const LlamaModel& model, const Case& c, int64_t first, int64_t last) {
    const int64_t n = int64_t(c.ids.size()), vocab = model.config().vocab_size;
    const std::vector<float> got = SequenceLogits(model, n, 5).all(c.ids);
    float max_ref = 1.0f, max_err = 0.0f;
    for (int64_t i = first * vocab; i < std::min(last, n) * vocab; ++i) {
      const float want = c.logits.ptr<const float>()[i];
      max_ref = std::max(max_ref, std::abs(want));
      max_err = std::max(max_err, std::abs(got[size_t(i)] - want));
    }
    return max_err / max_ref;
  }

  std::unique_ptr<SafetensorsFile> logits_file_;
  std::vector<Case> cases_;
  std::unique_ptr<Backend> backend_ = make_backend("cpu");
};

TEST_F(ForwardWindowGolden, EveryLayerSlidesOverAWindowShorterThanThePrompts) {
  auto model = load_model((kData / "models" / kName).string(), *backend_);
  EXPECT_EQ(model->config().sliding_window, kWindow);
  for (int64_t layer = 0; layer < model->config().num_hidden_layers; ++layer)
    EXPECT_EQ(model->config().attention_window(layer), kWindow) << "layer " << layer;
  size_t longest = 0;
  for (const Case& c : cases_) longest = std::max(longest, c.ids.size());
  EXPECT_GE(longest, size_t(5 * kWindow));
}

TEST_F(ForwardWindowGolden, ChunkedPrefillLogitsMatchTransformersOnlyWithTheWindow) {
  auto windowed = load_model((kData / "models" / kName).string(), *backend_);
  // The same weights with the window switched off (sliding_window null: full attention).
  testing::TempDir dir;
  fs::copy(kData / "models" / kName, dir.path(), fs::copy_options::recursive);
  nlohmann::json config = nlohmann::json::parse(std::ifstream(dir.file("config.json")));
  config["sliding_window"] = nullptr;
  dir.write("config.json", config.dump());
  auto full = load_model(dir.path(), *backend_);
  ASSERT_EQ(full->config().sliding_window, 0);

  for (const Case& c : cases_) {
    const int64_t n = int64_t(c.ids.size());
    SCOPED_TRACE("prompt of " + std::to_string(n) + " tokens");
    EXPECT_LE(relative_error(*windowed, c, 0, n), 1e-3f);
    // Before the window fills, both see the whole prefix; past it, only the window does.
    EXPECT_LE(relative_error(*full, c, 0, kWindow), 1e-3f);
    if (n >= 4 * kWindow) {
      EXPECT_GT(relative_error(*full, c, kWindow, n), 1e-2f);
    }
  }
}

}  // namespace
}  // namespace tern
