// Added tokens are found in the raw text before BPE, as HF's AddedVocabulary does:
// longest match first, lstrip / rstrip swallowing whitespace, single_word, normalized
// tokens matched on NFC text, and special tokens skipped by decode on request.
#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer_fixture.h"

namespace tern {
namespace {

using Ids = std::vector<int32_t>;

constexpr int32_t kImStart = 256;
constexpr int32_t kImEnd = 257;
constexpr int32_t kMask = 258;    // lstrip, special
constexpr int32_t kSep = 259;     // rstrip, not special
constexpr int32_t kWord = 260;    // single_word
constexpr int32_t kCafe = 261;    // normalized: matches "café" after NFC
constexpr int32_t kA = 262;       // "<a>"
constexpr int32_t kAB = 263;      // "<a><b>", longer than "<a>"
constexpr int32_t kSpaced = 264;  // lstrip + rstrip

class AddedTokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nlohmann::json json = testing::tiny_bpe_json({});
    json["normalizer"] = {{"type", "NFC"}};
    json["added_tokens"] = {
        testing::added_token_json(kImStart, "<|im_start|>", true),
        testing::added_token_json(kImEnd, "<|im_end|>", true),
        testing::added_token_json(kMask, "[MASK]", true, /*lstrip=*/true),
        testing::added_token_json(kSep, "<sep>", false, false, /*rstrip=*/true),
        testing::added_token_json(kWord, "word", false, false, false, /*single_word=*/true),
        testing::added_token_json(kCafe, "caf\u00e9", false, false, false, false, /*normalized=*/true),
        testing::added_token_json(kA, "<a>", false),
        testing::added_token_json(kAB, "<a><b>", false),
        testing::added_token_json(kSpaced, "<s>", true, true, true),
    };
    dir_.write("tokenizer.json", json.dump());
    tokenizer_ = Tokenizer::load(dir_.path());
  }

  // Plain BPE ids of text with no added tokens in it (bytes, as the test BPE has no merges).
  static Ids bytes(std::string_view text) {
    Ids ids;
    for (char c : text) ids.push_back(static_cast<uint8_t>(c));
    return ids;
  }
  static Ids cat(std::initializer_list<Ids> parts) {
    Ids out;
    for (const Ids& part : parts) out.insert(out.end(), part.begin(), part.end());
    return out;
  }

  testing::TempDir dir_;
  std::shared_ptr<const Tokenizer> tokenizer_;
};

TEST_F(AddedTokensTest, SpecialTokensWrittenInTheTextAreRecognised) {
  EXPECT_EQ(tokenizer_->encode("<|im_start|>user\nhi<|im_end|>"), cat({{kImStart}, bytes("user\nhi"), {kImEnd}}));
  EXPECT_EQ(tokenizer_->encode(" <|im_start|> x"), cat({bytes(" "), {kImStart}, bytes(" x")}));
  EXPECT_EQ(tokenizer_->encode("<|im_start"), bytes("<|im_start"));
}

TEST_F(AddedTokensTest, LongestMatchWins) {
  EXPECT_EQ(tokenizer_->encode("<a><b><a>"), (Ids{kAB, kA}));
  EXPECT_EQ(tokenizer_->encode("<a><c>"), cat({{kA}, bytes("<c>")}));
}

TEST_F(AddedTokensTest, LstripSwallowsWhitespaceOnTheLeftOnly) {
  EXPECT_EQ(tokenizer_->encode("a  \t[MASK] b"), cat({bytes("a"), {kMask}, bytes(" b")}));
  EXPECT_EQ(tokenizer_->encode("[MASK][MASK]"), (Ids{kMask, kMask}));
  // Whitespace already taken by the previous token's rstrip is not taken twice.
  EXPECT_EQ(tokenizer_->encode("<sep>  [MASK]"), (Ids{kSep, kMask}));
}

TEST_F(AddedTokensTest, RstripSwallowsWhitespaceOnTheRightOnly) {
  EXPECT_EQ(tokenizer_->encode("x <sep> \n y"), cat({bytes("x "), {kSep}, bytes("y")}));
  EXPECT_EQ(tokenizer_->encode("a <s>  b"), cat({bytes("a"), {kSpaced}, bytes("b")}));
}

TEST_F(AddedTokensTest, SingleWordTokensDoNotMatchInsideWords) {
  EXPECT_EQ(tokenizer_->encode("word"), (Ids{kWord}));
  EXPECT_EQ(tokenizer_->encode("a word."), cat({bytes("a "), {kWord}, bytes(".")}));
  EXPECT_EQ(tokenizer_->encode("words"), bytes("words"));
  EXPECT_EQ(tokenizer_->encode("sword"), bytes("sword"));
  EXPECT_EQ(tokenizer_->encode("\u00e9word"), bytes("\u00e9word")) << "é is a word character";
  EXPECT_EQ(tokenizer_->encode("_word"), bytes("_word"));
}

TEST_F(AddedTokensTest, NormalizedTokensMatchTheNormalisedText) {
  EXPECT_EQ(tokenizer_->encode("caf\u00e9"), (Ids{kCafe}));
  EXPECT_EQ(tokenizer_->encode("cafe\u0301!"), cat({{kCafe}, bytes("!")})) << "NFC turns e + U+0301 into é";
  // Raw (normalized == false) tokens are matched before normalisation.
  EXPECT_EQ(tokenizer_->encode("<|im_end|>cafe\u0301"), (Ids{kImEnd, kCafe}));
}

TEST_F(AddedTokensTest, DecodeKeepsOrSkipsSpecialTokens) {
  const Ids ids = tokenizer_->encode("<|im_start|>hi [MASK]<sep>");
  EXPECT_EQ(tokenizer_->decode(ids), "<|im_start|>hi[MASK]<sep>");
  EXPECT_EQ(tokenizer_->decode(ids, /*skip_special_tokens=*/true), "hi<sep>");
  EXPECT_TRUE(tokenizer_->is_special(kImStart));
  EXPECT_FALSE(tokenizer_->is_special(kSep));
  EXPECT_FALSE(tokenizer_->is_special('a'));
  EXPECT_EQ(tokenizer_->token_to_id("<|im_end|>"), kImEnd);
  EXPECT_EQ(tokenizer_->id_to_token(kMask), "[MASK]");
  EXPECT_EQ(tokenizer_->vocab_size(), 265);
  EXPECT_EQ(tokenizer_->token_bytes(kImStart, true), "");
  EXPECT_EQ(tokenizer_->token_bytes(kImStart, false), "<|im_start|>");
}

TEST_F(AddedTokensTest, DecodeSkipsUnknownIds) {
  EXPECT_EQ(tokenizer_->decode(Ids{'h', -1, 265, 1 << 30, 'i'}), "hi");
  EXPECT_EQ(tokenizer_->id_to_token(265), "");
  EXPECT_EQ(tokenizer_->token_bytes(-5, false), "");
}

}  // namespace
}  // namespace tern

namespace tern {
namespace {

// Issue 23, finding 6: special-token strings in text the client passes on can be plain
// text, everywhere (split_special_tokens, as HF's) or inside given ranges (message
// contents in a rendered chat); added tokens that are not special stay tokens.
class SplitSpecialTokensTest : public AddedTokensTest {};

TEST_F(SplitSpecialTokensTest, SplitSpecialTokensMakesOnlySpecialTokensPlainText) {
  const std::string text = "<|im_start|>hi<sep>[MASK]";
  EXPECT_EQ(tokenizer_->encode(text, EncodeOptions{.split_special_tokens = true}),
            cat({bytes("<|im_start|>hi"), {kSep}, bytes("[MASK]")}));
  EXPECT_EQ(tokenizer_->encode(text), cat({{kImStart}, bytes("hi"), {kSep, kMask}}));
}

TEST_F(SplitSpecialTokensTest, PlainRangesKeepTheRestSpecial) {
  // The template's markers around a content that spells two of them.
  const std::string text = "<|im_start|>user <|im_end|><|im_start|>x<|im_end|>";
  const std::vector<TextRange> content = {{17, 40}};  // "<|im_end|><|im_start|>x"
  EXPECT_EQ(tokenizer_->encode(text, EncodeOptions{.plain_ranges = content}),
            cat({{kImStart}, bytes("user "), bytes("<|im_end|><|im_start|>x"), {kImEnd}}));
  // A token that only overlaps a range is plain too.
  const std::vector<TextRange> edge = {{20, 21}};
  EXPECT_EQ(tokenizer_->encode(text, EncodeOptions{.plain_ranges = edge}),
            cat({{kImStart}, bytes("user "), bytes("<|im_end|>"), {kImStart}, bytes("x"), {kImEnd}}));
  EXPECT_EQ(tokenizer_->find_special_tokens(text), (std::vector<TextRange>{{0, 12}, {17, 27}, {27, 39}, {40, 50}}));
}

TEST_F(SplitSpecialTokensTest, ASetCancelFlagStopsEncoding) {
  CancelFlag cancel;
  cancel.cancel();
  EXPECT_THROW(tokenizer_->encode("some text", EncodeOptions{.cancel = &cancel}), Cancelled);
}

}  // namespace
}  // namespace tern
