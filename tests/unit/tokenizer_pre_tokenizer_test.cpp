// Pre-tokenizer splits for the Qwen2 and Llama 3 Split regexes and the bare GPT-2
// ByteLevel pre-tokenizer, and the PCRE2 reading of HF (Oniguruma) patterns.
#include <gtest/gtest.h>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/regex.h"

namespace tern {
namespace {

const std::string kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const std::string kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

PreTokenizer split_then_byte_level(const std::string& pattern) {
  const nlohmann::json json = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}}}};
  return PreTokenizer::from_json(parse_json_node(json.dump(), "test"));
}

std::vector<std::string> words(const PreTokenizer& pre_tokenizer, std::string_view text) {
  std::vector<std::string> out;
  pre_tokenizer.split(text, [&](std::string_view word) { out.emplace_back(word); });
  return out;
}

using Words = std::vector<std::string>;

TEST(TokenizerPreTokenizer, Qwen2PatternSplits) {
  const PreTokenizer qwen = split_then_byte_level(kQwen2Pattern);
  EXPECT_EQ(words(qwen, "Hello world"), (Words{"Hello", " world"}));
  EXPECT_EQ(words(qwen, "I'm HERE'S they'LL"), (Words{"I", "'m", " HERE", "'S", " they", "'LL"}));
  EXPECT_EQ(words(qwen, "abc\n\n  def"), (Words{"abc", "\n\n", " ", " def"}));
  EXPECT_EQ(words(qwen, "x = 12345;"), (Words{"x", " =", " ", "1", "2", "3", "4", "5", ";"}));
  EXPECT_EQ(words(qwen, "end.\r\n"), (Words{"end", ".\r\n"}));
  EXPECT_EQ(words(qwen, "  trailing  "), (Words{" ", " trailing", "  "}));
  EXPECT_EQ(words(qwen, "你好，世界"), (Words{"你好", "，世界"}));
  EXPECT_EQ(words(qwen, "\t\tx"), (Words{"\t", "\tx"}));
  EXPECT_EQ(words(qwen, ""), Words{});
}

TEST(TokenizerPreTokenizer, Llama3GroupsDigitsByThree) {
  const PreTokenizer llama = split_then_byte_level(kLlama3Pattern);
  EXPECT_EQ(words(llama, "1234567"), (Words{"123", "456", "7"}));
  EXPECT_EQ(words(llama, "v2 beta"), (Words{"v", "2", " beta"}));
}

TEST(TokenizerPreTokenizer, ByteLevelWithGpt2RegexAndPrefixSpace) {
  const nlohmann::json json = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}};
  const PreTokenizer gpt2 = PreTokenizer::from_json(parse_json_node(json.dump(), "test"));
  EXPECT_EQ(words(gpt2, "Hello world"), (Words{" Hello", " world"}));
  EXPECT_EQ(words(gpt2, " it's 42!"), (Words{" it", "'s", " 42", "!"}));
  EXPECT_EQ(words(gpt2, "a   b"), (Words{" a", "  ", " b"}));
}

TEST(TokenizerPreTokenizer, LiteralStringSplit) {
  const nlohmann::json json = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"String", "a.b"}}}, {"behavior", "Isolated"}, {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  const PreTokenizer pre = PreTokenizer::from_json(parse_json_node(json.dump(), "test"));
  EXPECT_EQ(words(pre, "xa.byaxb"), (Words{"x", "a.b", "yaxb"}));
}

TEST(TokenizerRegex, WhitespaceEscapesUseTheWhiteSpaceProperty) {
  EXPECT_EQ(translate_whitespace_escapes(R"(\s+(?!\S))"), R"([\t-\r\x{85}\p{Z}]+(?![^\t-\r\x{85}\p{Z}]))");
  EXPECT_EQ(translate_whitespace_escapes(R"([^\s\p{L}]|\\s)"), R"([^\t-\r\x{85}\p{Z}\p{L}]|\\s)");
  EXPECT_EQ(translate_whitespace_escapes(R"([]\s][[:alpha:]\s])"), R"([]\t-\r\x{85}\p{Z}][[:alpha:]\t-\r\x{85}\p{Z}])");
  const Regex space(R"(\s)");
  auto matches = [&](std::string_view text) {
    int count = 0;
    space.for_each_match(text, [&](size_t, size_t) { ++count; });
    return count;
  };
  EXPECT_EQ(matches("\u180E"), 0) << "U+180E is not White_Space (Oniguruma agrees)";
  EXPECT_EQ(matches("\u3000\u0085\u00A0\t"), 4);
}

TEST(TokenizerRegex, CaseInsensitiveGroupAndUnicodeClasses) {
  const Regex contraction("(?i:'s|'ll)");
  std::vector<std::string> found;
  const std::string text = "'S 'Ll 's 'x";
  contraction.for_each_match(text, [&](size_t s, size_t e) { found.push_back(text.substr(s, e - s)); });
  EXPECT_EQ(found, (Words{"'S", "'Ll", "'s"}));
  EXPECT_THROW(Regex("(unclosed"), Error);
}

TEST(TokenizerRegex, EmptyMatchesDoNotLoop) {
  const Regex empty_or_a("a*");
  std::vector<std::pair<size_t, size_t>> found;
  empty_or_a.for_each_match("baab", [&](size_t s, size_t e) { found.emplace_back(s, e); });
  // Rust/onig iteration: empty at 0, "aa" at 1..3, then no empty match right after it, empty at 4.
  EXPECT_EQ(found, (std::vector<std::pair<size_t, size_t>>{{0, 0}, {1, 3}, {4, 4}}));
}

}  // namespace
}  // namespace tern
