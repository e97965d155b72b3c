// Regular expressions as grammars: the supported syntax matches what ECMAScript / Python
// match for a whole string, and constructs outside regular languages are refused by name.
#include <gtest/gtest.h>

#include "grammar/regex.h"
#include "grammar_support.h"

namespace tern::grammar {
namespace {

using testing::matches;

bool full_match(std::string_view pattern, std::string_view text) { return matches(regex_grammar(pattern), text); }

void expect_refused(std::string_view pattern, std::string_view message_part) {
  try {
    regex_grammar(pattern);
    ADD_FAILURE() << pattern << " was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(message_part), std::string::npos) << e.what();
  }
}

TEST(GrammarRegex, MatchesTheWholeOutput) {
  EXPECT_TRUE(full_match("abc", "abc"));
  EXPECT_FALSE(full_match("abc", "abcd"));
  EXPECT_FALSE(full_match("abc", "ab"));
  EXPECT_TRUE(full_match("^abc$", "abc"));  // anchors change nothing
}

TEST(GrammarRegex, AlternationGroupsAndQuantifiers) {
  EXPECT_TRUE(full_match("(ab|cd)+e?", "abcdab"));
  EXPECT_TRUE(full_match("(?:ab|cd)+e?", "cde"));
  EXPECT_FALSE(full_match("(ab|cd)+e?", "e"));
  EXPECT_TRUE(full_match("a{3}", "aaa"));
  EXPECT_FALSE(full_match("a{3}", "aa"));
  EXPECT_TRUE(full_match("a{2,}", "aaaaa"));
  EXPECT_TRUE(full_match("a{1,3}b", "aaab"));
  EXPECT_FALSE(full_match("a{1,3}b", "aaaab"));
  EXPECT_TRUE(full_match("a{,2}", ""));
  EXPECT_TRUE(full_match("a*?b+?", "aab"));  // lazy: the same strings
  EXPECT_TRUE(full_match("(?<year>[0-9]{4})-(?P<m>[0-9]{2})", "2024-05"));
  EXPECT_TRUE(full_match("a{x", "a{x"));  // a brace that is no quantifier is literal
}

TEST(GrammarRegex, ClassesAndEscapes) {
  EXPECT_TRUE(full_match("[a-c]+", "abcba"));
  EXPECT_FALSE(full_match("[a-c]+", "abd"));
  EXPECT_TRUE(full_match("[^a-c]", "z"));
  EXPECT_TRUE(full_match("[^a-c]", "\xE4\xBD\xA0"));  // a negated class holds every other character
  EXPECT_TRUE(full_match("\\d\\w\\s", "7_ "));
  EXPECT_FALSE(full_match("\\d", "\xD9\xA3"));  // \d is ASCII only, as in ECMAScript
  EXPECT_TRUE(full_match("\\D\\W\\S", "a-x"));
  EXPECT_TRUE(full_match("[\\d.-]+", "1.5-2"));
  EXPECT_TRUE(full_match("\\.\\*\\(\\)\\[\\]\\{\\}\\\\\\/", ".*()[]{}\\/"));
  EXPECT_TRUE(full_match("\\x41\\u00e9\\u{1F600}\\t\\n", "A\xC3\xA9\xF0\x9F\x98\x80\t\n"));
  EXPECT_TRUE(full_match(".", "\xC3\xA9"));
  EXPECT_FALSE(full_match(".", "\n"));
  EXPECT_TRUE(full_match("[\\b]", "\b"));
}

TEST(GrammarRegex, ConstructsBeyondRegularLanguagesAreRefusedByName) {
  expect_refused("(a)\\1", "backreferences");
  expect_refused("a(?=b)", "lookaround");
  expect_refused("a(?!b)", "lookaround");
  expect_refused("\\bword", "word boundaries");
  expect_refused("\\p{L}", "Unicode property");
  expect_refused("(?i)abc", "inline flags");
  expect_refused("a^b", "'^' is only supported at the start");
  expect_refused("a$b", "'$' is only supported at the end");
  expect_refused("a++", "possessive");
  expect_refused("(ab", "missing ')'");
  expect_refused("ab)", "unbalanced ')'");
  expect_refused("[abc", "unterminated character class");
  expect_refused("*a", "needs something to repeat");
  expect_refused("a{3,1}", "n <= m");
  expect_refused("[]", "empty character class");
}

TEST(GrammarRegex, ErrorsNameThePatternAndTheOffset) {
  try {
    regex_grammar("ab(?=c)");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "regex 'ab(?=c)' at offset 3: lookaround assertions are not supported");
  }
}

}  // namespace
}  // namespace tern::grammar
