// The matcher: per step it allows exactly the tokens whose bytes the grammar accepts next
// (checked against trying every token), across rule boundaries inside a token, with UTF-8
// characters split over tokens, never a special token as text, and it says when the
// output may or must end.
#include <gtest/gtest.h>

#include <random>

#include "grammar/gbnf.h"
#include "grammar/json_schema.h"
#include "grammar_support.h"

namespace tern::grammar {
namespace {

using testing::allowed;
using testing::token_strings;
using testing::truly_allowed;
using testing::vocabulary;

std::vector<std::string> allowed_strings(Matcher& m) { return token_strings(m.grammar().vocabulary(), allowed(m)); }

Matcher matcher(const std::string& gbnf, std::shared_ptr<const Vocabulary> vocab) {
  return Matcher(CompiledGrammar::compile(parse_gbnf(gbnf), std::move(vocab)));
}

TEST(GrammarMatcher, AllowsExactlyTheTokensThatCanComeNext) {
  Matcher m = matcher(R"(root ::= "ab" | "ac")", vocabulary({"a", "b", "c", "ab", "abc", "ac", "x"}));
  EXPECT_EQ(allowed_strings(m), (std::vector<std::string>{"a", "ab", "ac"}));
  ASSERT_TRUE(m.accept_token(0));  // "a"
  EXPECT_EQ(allowed_strings(m), (std::vector<std::string>{"b", "c"}));
}

TEST(GrammarMatcher, ARejectedTokenChangesNothing) {
  Matcher m = matcher(R"(root ::= "ab")", vocabulary({"a", "b", "x"}));
  EXPECT_FALSE(m.accept_token(2));
  EXPECT_FALSE(m.accept_token(1));
  EXPECT_TRUE(m.accept_token(0));
  EXPECT_TRUE(m.accept_token(1));
  EXPECT_TRUE(m.is_terminated());
}

TEST(GrammarMatcher, SaysWhenTheOutputMayEndAndWhenItMust) {
  Matcher m = matcher(R"(root ::= "a" "b"?)", vocabulary({"a", "b"}));
  EXPECT_FALSE(m.can_end());
  ASSERT_TRUE(m.accept_token(0));
  EXPECT_TRUE(m.can_end());
  EXPECT_FALSE(m.is_terminated());
  ASSERT_TRUE(m.accept_token(1));
  EXPECT_TRUE(m.is_terminated());
  EXPECT_TRUE(allowed(m).empty());
}

TEST(GrammarMatcher, AGrammarMatchingTheEmptyOutputMayEndAtOnce) {
  Matcher m = matcher(R"(root ::= "a"*)", vocabulary({"a"}));
  EXPECT_TRUE(m.can_end());
  EXPECT_FALSE(m.is_terminated());
}

TEST(GrammarMatcher, SpecialTokensAreNeverTextEvenWhenTheirContentFits) {
  Matcher m = matcher(R"(root ::= "<|end|>")", vocabulary({"<|end|>", "<|", "end", "|>"}, {"<|end|>"}));
  EXPECT_EQ(allowed_strings(m), (std::vector<std::string>{"<|"}));
  EXPECT_FALSE(m.accept_token(0));
}

TEST(GrammarMatcher, TokensWithoutBytesAndUnknownIdsAreNeverAllowed) {
  Matcher m = matcher(R"(root ::= "a"*)", vocabulary({"", "a"}));
  EXPECT_EQ(allowed(m), std::vector<int32_t>{1});
  EXPECT_FALSE(m.accept_token(0));
  EXPECT_FALSE(m.accept_token(-1));
  EXPECT_FALSE(m.accept_token(2));
}

TEST(GrammarMatcher, TokensLongerThanTheLimitAreNeverText) {
  // A hostile tokenizer.json could hold a megabyte-long token; the grammar engine leaves it out.
  const std::string longest(Vocabulary::kMaxTokenBytes, 'a');
  Matcher m = matcher(R"(root ::= "a"*)", vocabulary({"a", longest, longest + "a"}));
  EXPECT_EQ(allowed(m), (std::vector<int32_t>{0, 1}));
  EXPECT_FALSE(m.accept_token(2));
}

TEST(GrammarMatcher, AUtf8CharacterMayBeSplitOverTokens) {
  // "é" is C3 A9, "à" C3 A0, "你" E4 BD A0; byte-level vocabularies hold pieces of them.
  // The class excludes é: after C3, A0 may follow but A9 may not.
  Matcher m = matcher("root ::= [^\\u00e9]+",
                      vocabulary({"\xC3", "\xA9", "\xC3\xA9", "a", "\xE4\xBD", "\xA0", "\xBD\xA0", "\xC3\xA0"}));
  EXPECT_EQ(allowed_strings(m), (std::vector<std::string>{"\xC3", "a", "\xE4\xBD", "\xC3\xA0"}));
  ASSERT_TRUE(m.accept_token(4));  // E4 BD: two bytes of three
  EXPECT_EQ(allowed_strings(m), (std::vector<std::string>{"\xA9", "\xA0"}));
  EXPECT_FALSE(m.can_end());  // in the middle of a character
  ASSERT_TRUE(m.accept_token(5));
  EXPECT_TRUE(m.can_end());
  ASSERT_TRUE(m.accept_token(0));  // C3
  EXPECT_EQ(allowed_strings(m), (std::vector<std::string>{"\xA0"}));
  EXPECT_EQ(allowed(m), truly_allowed(m));
}

TEST(GrammarMatcher, ATokenMayCloseARuleAndGoOnInTheRuleThatCalledIt) {
  // The JSON string is a rule of its own, called for each item: `a",` completes one
  // item and starts the separator, `", "` ends a string and begins the next.
  nlohmann::ordered_json schema = {{"type", "array"}, {"items", {{"type", "string"}}}};
  auto vocab = vocabulary({"[", "\"", "a", "a\"", "a\",", "\", \"", "\"]", "a\"]", ",", " ", "]", "a\"}", "\"a\""});
  Matcher m(CompiledGrammar::compile(json_schema_grammar(schema), vocab));
  ASSERT_TRUE(m.accept_bytes("[\"a"));
  // Inside the string `[`, `,`, ` ` and `]` are characters like any other.
  EXPECT_EQ(allowed_strings(m),
            (std::vector<std::string>{"[", "\"", "a", "a\"", "a\",", "\", \"", "\"]", "a\"]", ",", " ", "]"}));
  EXPECT_EQ(allowed(m), truly_allowed(m));
  ASSERT_TRUE(m.accept_bytes("\", \""));
  EXPECT_EQ(allowed(m), truly_allowed(m));
}

TEST(GrammarMatcher, RecursionKeepsOneStackPerOpenRule) {
  // Balanced parentheses: closing tokens depend on how many are open.
  Matcher m = matcher(R"g(root ::= "(" root? ")")g", vocabulary({"(", ")", "))", ")))", "()"}));
  ASSERT_TRUE(m.accept_token(0));
  ASSERT_TRUE(m.accept_token(0));
  EXPECT_EQ(allowed_strings(m), (std::vector<std::string>{"(", ")", "))", "()"}));
  ASSERT_TRUE(m.accept_token(2));
  EXPECT_TRUE(m.is_terminated());
}

// A walk through generic JSON with random tokens: at every step the mask must equal the
// tokens that a copy of the matcher accepts one by one.
TEST(GrammarMatcher, MaskEqualsTryingEveryTokenOnRandomWalks) {
  auto vocab = vocabulary({"{",        "}",     "[",    "]",    "\"",    ",",      ":",      " ",     "a",     "b",
                           "1",        "0",     "-",    ".",    "e",     "t",      "r",      "u",     "f",     "l",
                           "s",        "n",     "\\",   "{\"",  "\"}",   "\", \"", "\": \"", "a\"",   "\"a",   "},",
                           "}]",       "[{",    "true", "null", "1,",    "0}",     "\\n",    "\"\\",  "\xC3",  "\xA9",
                           "\xC3\xA9", "a\xC3", "\": ", ", ",   "]}",    "[]",     "{}",     "\": {", "\": [", "1.5e",
                           "x",        "\n",    "\"}}", "1]",   "null}", "\": 1}", "e+",     "00"});
  const auto compiled = CompiledGrammar::compile(json_object_grammar(), vocab);
  for (uint32_t seed = 0; seed < 40; ++seed) {
    std::mt19937 rng(seed);
    Matcher m(compiled);
    for (int step = 0; step < 40 && !m.is_terminated(); ++step) {
      const std::vector<int32_t> mask = allowed(m);
      ASSERT_EQ(token_strings(*vocab, mask), token_strings(*vocab, truly_allowed(m)))
          << "seed " << seed << " step " << step;
      ASSERT_FALSE(mask.empty()) << "seed " << seed << " step " << step;
      ASSERT_TRUE(m.accept_token(mask[rng() % mask.size()]));
    }
  }
}

}  // namespace
}  // namespace tern::grammar
