// The GBNF grammar text format: rules, literals, classes, groups and repetitions parse to
// the languages they describe; recursion works; mistakes are errors with line and column.
#include <gtest/gtest.h>

#include "grammar/gbnf.h"
#include "grammar_support.h"

namespace tern::grammar {
namespace {

using testing::is_prefix;
using testing::matches;

std::string error_of(std::string_view text) {
  try {
    CompiledGrammar::compile(parse_gbnf(text), testing::byte_vocabulary());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(GrammarGbnf, RulesLiteralsClassesAndRepetition) {
  const Grammar g = parse_gbnf(R"(
    # a key = value list
    root  ::= pair ("," ws pair)*
    pair  ::= key "=" value
    key   ::= [a-z_] [a-z0-9_]{0,7}
    value ::= "\"" [^"\n]* "\"" | [0-9]+
    ws    ::= | " "
  )");
  EXPECT_TRUE(matches(g, "a=1"));
  EXPECT_TRUE(matches(g, "a=1, b_2=\"x y\",c=\"\""));
  EXPECT_FALSE(matches(g, "a=1,"));
  EXPECT_FALSE(matches(g, "abcdefghi=1"));  // key is at most 8 characters
  EXPECT_TRUE(is_prefix(g, "a=1,"));
}

TEST(GrammarGbnf, EscapesAndAnyCharacter) {
  const Grammar g = parse_gbnf(R"(root ::= "\x41\u00e9\t\"\\" [\[\]\-\^] . [^\x00-\x7F])");
  EXPECT_TRUE(matches(g, "A\xC3\xA9\t\"\\-z\xE4\xBD\xA0"));
  EXPECT_TRUE(matches(g, "A\xC3\xA9\t\"\\^\xC3\xA9\xC3\xA9"));
  EXPECT_FALSE(matches(g, "A\xC3\xA9\t\"\\-zz"));
}

TEST(GrammarGbnf, RulesMaySpanLinesAndRefertoEachOtherRecursively) {
  const Grammar g = parse_gbnf(R"g(
root ::= expr
expr ::= term
       | term "+" expr
term ::= [0-9]+
       | "(" expr ")"
)g");
  EXPECT_TRUE(matches(g, "1+(2+3)+((4))"));
  EXPECT_FALSE(matches(g, "1+(2+3"));
  EXPECT_FALSE(matches(g, "1+"));
}

TEST(GrammarGbnf, CountedRepetitions) {
  const Grammar g = parse_gbnf(R"(root ::= "a"{2} "b"{1,} "c"{,2} "d"{1,2})");
  EXPECT_TRUE(matches(g, "aabd"));
  EXPECT_TRUE(matches(g, "aabbbccdd"));
  EXPECT_FALSE(matches(g, "abd"));
  EXPECT_FALSE(matches(g, "aabcccd"));
}

TEST(GrammarGbnf, MistakesAreErrorsWithLineAndColumn) {
  EXPECT_EQ(error_of("root ::= \"a\"\nroot ::= \"b\""), "grammar line 2 column 1: rule 'root' is defined twice");
  EXPECT_EQ(error_of("root ::= item\n"), "grammar line 1 column 10: rule 'item' is used but not defined");
  EXPECT_EQ(error_of("item ::= \"a\""), "the grammar has no rule named 'root' (where matching starts)");
  EXPECT_EQ(error_of("root ::= \"a"), "grammar line 1 column 12: unterminated string literal");
  EXPECT_EQ(error_of("root ::= [a-"), "grammar line 1 column 13: unterminated character class");
  EXPECT_EQ(error_of("root ::= (\"a\""), "grammar line 1 column 14: expected ')'");
  EXPECT_EQ(error_of("root ::= \"\\q\""), "grammar line 1 column 11: unknown escape '\\q'");
  EXPECT_EQ(error_of("root = \"a\""), "grammar line 1 column 6: expected '::=' after the rule name 'root'");
}

TEST(GrammarGbnf, LeftRecursionIsRefused) {
  EXPECT_EQ(error_of("root ::= root \"a\" | \"b\""),
            "rule 'root' is left-recursive (root -> root without consuming input); rewrite it with repetition");
  EXPECT_EQ(error_of("root ::= x\nx ::= y \"a\" | \"b\"\ny ::= \"\"? x"),
            "rule 'x' is left-recursive (x -> y -> x without consuming input); rewrite it with repetition");
}

TEST(GrammarGbnf, AGrammarThatMatchesNothingIsRefused) {
  EXPECT_EQ(error_of("root ::= \"a\" root"), "the grammar matches no output at all");
}

}  // namespace
}  // namespace tern::grammar
