// The model applies its sliding window in every layer, with no reference outputs needed:
// with a window of W keys in each of L layers, the logits at position p depend only on the
// tokens at positions [p - L (W - 1), p]. So two prompts that agree there give the same
// logits at p, to the bit (the CPU backend is batch-invariant), whatever came before, and
// whether the prompt ran in one step or in chunks; without the window they differ.
// tiny-mistral (2 layers) with its config's sliding_window set to 3. Agreement with
// transformers is forward_window_golden_test's.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "model/load_model.h"
#include "model/sequence_logits.h"
#include "test_support.h"

namespace tern {
namespace {

namespace fs = std::filesystem;
const fs::path kTinyMistral = fs::path(TERN_TEST_DATA) / "models" / "tiny-mistral";
constexpr int kWindow = 3, kTokens = 30;

// tiny-mistral's folder copied into `dir` with config.json's sliding_window set to `window`.
std::string with_window(const testing::TempDir& dir, int window) {
  fs::copy(kTinyMistral, dir.path(), fs::copy_options::recursive);
  nlohmann::json config = nlohmann::json::parse(std::ifstream(dir.file("config.json")));
  config["sliding_window"] = window;
  dir.write("config.json", config.dump());
  return dir.path();
}

std::vector<float> last_row(const std::vector<float>& logits, int64_t vocab) {
  return {logits.end() - vocab, logits.end()};
}

TEST(ForwardSlidingWindow, LogitsDependOnlyOnTheTokensTheWindowsReach) {
  auto backend = make_backend("cpu");
  testing::TempDir dir;
  auto windowed = load_model(with_window(dir, kWindow), *backend);
  auto full = load_model(kTinyMistral.string(), *backend);
  ASSERT_EQ(full->config().sliding_window, 0);
  const int64_t layers = windowed->config().num_hidden_layers, vocab = windowed->config().vocab_size;
  const int reach = int(layers) * (kWindow - 1) + 1;  // tokens the last position's logits can see

  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> token(0, int32_t(vocab) - 1);
  std::vector<int32_t> a(kTokens), b(kTokens);
  for (int i = 0; i < kTokens; ++i) {
    a[size_t(i)] = token(rng);
    b[size_t(i)] = i >= kTokens - reach ? a[size_t(i)] : (a[size_t(i)] + 1) % int32_t(vocab);
  }
  // a in chunks of 7 tokens (the window's edge inside and between steps), b in one step.
  const std::vector<float> a_windowed = last_row(SequenceLogits(*windowed, kTokens, 7).all(a), vocab);
  const std::vector<float> b_windowed = last_row(SequenceLogits(*windowed, kTokens).all(b), vocab);
  EXPECT_EQ(a_windowed, b_windowed) << "the prompts differ only outside the windows' reach";
  EXPECT_NE(last_row(SequenceLogits(*full, kTokens).all(a), vocab),
            last_row(SequenceLogits(*full, kTokens).all(b), vocab))
      << "without the window the earlier tokens count";

  // One more differing token, just inside the reach, changes the last logits.
  b[size_t(kTokens - reach)] = (a[size_t(kTokens - reach)] + 1) % int32_t(vocab);
  EXPECT_NE(a_windowed, last_row(SequenceLogits(*windowed, kTokens).all(b), vocab));
}

}  // namespace
}  // namespace tern
