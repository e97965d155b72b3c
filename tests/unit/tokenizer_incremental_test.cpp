// Streaming detokenization: every delta is valid UTF-8, and the deltas plus flush()
// always add up to decode() of all ids, whatever the ids are.
#include <gtest/gtest.h>

#include <random>

#include "base/utf8.h"
#include "tokenizer/incremental_detokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_fixture.h"

namespace tern {
namespace {

using Ids = std::vector<int32_t>;

std::shared_ptr<const Tokenizer> qwen() {
  static const std::shared_ptr<const Tokenizer> tokenizer = Tokenizer::load(testing::qwen_dir());
  return tokenizer;
}

// Pushes every id and returns the deltas, then flush() as the last element.
std::vector<std::string> stream(const Ids& ids, bool skip_special) {
  IncrementalDetokenizer detokenizer(qwen(), skip_special);
  std::vector<std::string> deltas;
  for (int32_t id : ids) deltas.push_back(detokenizer.push(id));
  deltas.push_back(detokenizer.flush());
  return deltas;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& part : parts) out += part;
  return out;
}

TEST(TokenizerIncremental, HoldsBackSplitCharactersUntilComplete) {
  // The four single-byte tokens of "😀": nothing comes out until the last one.
  const std::string emoji = "\xF0\x9F\x98\x80";
  Ids ids;
  for (char c : emoji) ids.push_back(*qwen()->token_to_id(byte_level::encode(std::string(1, c))));
  const std::vector<std::string> deltas = stream(ids, false);
  EXPECT_EQ(deltas, (std::vector<std::string>{"", "", "", emoji, ""}));
}

TEST(TokenizerIncremental, FlushEmitsAnUnfinishedCharacterAsReplacement) {
  const Ids ids = {*qwen()->token_to_id("Hi"), *qwen()->token_to_id(byte_level::encode("\xE4"))};
  const std::vector<std::string> deltas = stream(ids, false);
  EXPECT_EQ(deltas, (std::vector<std::string>{"Hi", "", "\xEF\xBF\xBD"}));
}

TEST(TokenizerIncremental, SpecialTokensFollowSkipSpecialTokens) {
  const Ids ids = qwen()->encode("<|im_start|>assistant\nOK<|im_end|>");
  EXPECT_EQ(join(stream(ids, false)), "<|im_start|>assistant\nOK<|im_end|>");
  EXPECT_EQ(join(stream(ids, true)), "assistant\nOK");
}

TEST(TokenizerIncremental, MatchesDecodeOnRandomIdSequences) {
  std::mt19937 rng(5);
  const int32_t vocab = qwen()->vocab_size();
  for (int trial = 0; trial < 2000; ++trial) {
    Ids ids(rng() % 30);
    for (int32_t& id : ids) {
      switch (rng() % 4) {
        case 0:  // a single-byte token, often part of a multibyte character
          id = *qwen()->token_to_id(byte_level::encode(std::string(1, static_cast<char>(0x80 + rng() % 0x78))));
          break;
        case 1:
          id = static_cast<int32_t>(rng() % vocab);
          break;
        case 2:  // special and added tokens, and ids just past the vocabulary
          id = 151640 + static_cast<int32_t>(rng() % 40);
          break;
        default:
          id = static_cast<int32_t>(rng() % 256);
      }
    }
    for (bool skip : {false, true}) {
      const std::vector<std::string> deltas = stream(ids, skip);
      for (const std::string& delta : deltas) ASSERT_TRUE(utf8::is_valid(delta));
      ASSERT_EQ(join(deltas), qwen()->decode(ids, skip)) << "trial " << trial;
    }
  }
}

TEST(TokenizerIncremental, MatchesDecodeOnEncodedText) {
  const std::string text =
      "混合 text 😀👍🏽 日本語 한국어 \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB <|im_end|>";
  const Ids ids = qwen()->encode(text);
  const std::vector<std::string> deltas = stream(ids, false);
  EXPECT_EQ(join(deltas), text);
  EXPECT_EQ(deltas.back(), "");
}

}  // namespace
}  // namespace tern
