// The matcher with the Qwen2.5 vocabulary (151,665 tokens, byte-level, with pieces of
// UTF-8 characters and special tokens): along a real output the mask equals trying every
// token, the output's own tokens are always allowed, and the special tokens never are.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "grammar/json_schema.h"
#include "grammar/regex.h"
#include "grammar_support.h"
#include "tokenizer/tokenizer.h"

namespace tern::grammar {
namespace {

using Json = nlohmann::ordered_json;

class QwenVocab : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tokenizer_ = Tokenizer::load(std::string(TERN_TEST_DATA) + "/tokenizers/qwen2.5");
    std::vector<std::string> bytes;
    std::vector<bool> special;
    for (int32_t id = 0; id < tokenizer_->vocab_size(); ++id) {
      bytes.push_back(tokenizer_->token_bytes(id, false));
      special.push_back(tokenizer_->is_special(id));
    }
    vocab_ = std::make_shared<Vocabulary>(std::move(bytes), std::move(special));
  }
  static inline std::shared_ptr<const Tokenizer> tokenizer_;
  static inline std::shared_ptr<const Vocabulary> vocab_;
};

TEST_F(QwenVocab, TheMaskEqualsTryingEveryTokenAlongARealOutput) {
  const Json schema = Json::parse(R"({"type": "object", "properties": {
      "city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 14},
      "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}}},
      "required": ["city", "days", "tags"]})");
  const std::string output = R"({"city": "Zürich 你好", "days": 12, "tags": ["a\"b", "日本"]})";
  Matcher m(CompiledGrammar::compile(json_schema_grammar(schema), vocab_));
  const std::vector<int32_t> tokens = tokenizer_->encode(output, false);
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::vector<int32_t> mask = testing::allowed(m);
    if (i % 4 == 0) {
      ASSERT_EQ(mask, testing::truly_allowed(m)) << "before token " << i;
    }
    ASSERT_TRUE(std::binary_search(mask.begin(), mask.end(), tokens[i])) << "token " << i;
    ASSERT_TRUE(m.accept_token(tokens[i]));
  }
  EXPECT_TRUE(m.is_terminated());
}

TEST_F(QwenVocab, PiecesOfUtf8CharactersAreAllowedInsideStringsAndCompleteEachOther) {
  Matcher m(CompiledGrammar::compile(json_schema_grammar(Json{{"type", "string"}}), vocab_));
  ASSERT_TRUE(m.accept_bytes("\""));
  // A token holding the first two bytes of a three-byte character, and what may follow it.
  int32_t partial = -1;
  for (int32_t id = 0; id < vocab_->size() && partial < 0; ++id)
    if (vocab_->bytes(id) == "\xE4\xBD") partial = id;
  ASSERT_GE(partial, 0) << "the Qwen vocabulary has a token for E4 BD";
  const std::vector<int32_t> mask = testing::allowed(m);
  EXPECT_TRUE(std::binary_search(mask.begin(), mask.end(), partial));
  ASSERT_TRUE(m.accept_token(partial));
  EXPECT_FALSE(m.can_end());
  for (int32_t id : testing::allowed(m)) {
    const std::string& b = vocab_->bytes(id);
    ASSERT_TRUE((uint8_t(b[0]) & 0xC0) == 0x80) << "after E4 BD only a continuation byte fits, got token " << id;
  }
}

TEST_F(QwenVocab, SpecialTokensAreNeverAllowedAsText) {
  Matcher m(CompiledGrammar::compile(regex_grammar("(<\\|im_end\\|>|<tool_call>|x)+"), vocab_));
  const std::vector<int32_t> mask = testing::allowed(m);
  const auto allowed = [&](std::string_view token) {
    return std::binary_search(mask.begin(), mask.end(), *tokenizer_->token_to_id(token));
  };
  EXPECT_FALSE(allowed("<|im_end|>"));  // special: never text
  EXPECT_TRUE(allowed("<tool_call>"));  // an added token that is not special is text
  EXPECT_TRUE(allowed("<"));            // the special token's text can still be written in pieces
}

// A random-weight model samples nearly uniformly among the allowed tokens, so it walks
// into corners a trained one never does: whichever allowed token is taken, the grammar
// must still allow something next (or be complete), or the sequence could not go on.
TEST_F(QwenVocab, EveryAllowedTokenLeavesSomethingToSample) {
  std::ifstream file(std::string(TERN_SOURCE_DIR) + "/bench/schemas/nested-10-fields.json");
  const Json schema = Json::parse(file);
  const auto compiled = CompiledGrammar::compile(json_schema_grammar(schema), vocab_);
  std::mt19937 rng(5);
  for (int walk = 0; walk < 40; ++walk) {
    Matcher m(compiled);
    for (int step = 0; step < 300 && !m.is_terminated(); ++step) {
      const std::vector<int32_t> mask = testing::allowed(m);
      ASSERT_TRUE(!mask.empty() || m.can_end()) << "walk " << walk << " step " << step << ": nothing allowed";
      if (mask.empty()) break;
      const int32_t token = mask[rng() % mask.size()];
      ASSERT_TRUE(m.accept_token(token)) << "walk " << walk << " step " << step << ": allowed token " << token << " ("
                                         << ::testing::PrintToString(vocab_->bytes(token)) << ") refused";
    }
  }
}

}  // namespace
}  // namespace tern::grammar
