// Template text and whitespace control as transformers' Jinja environment lexes them
// (trim_blocks, lstrip_blocks, keep_trailing_newline=False), literal syntax, and lexer
// errors with their line and column. Expected strings were checked against jinja2 3.1.6.
#include "jinja/jinja_lexer.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "jinja/jinja_template.h"

namespace tern::jinja {
namespace {

std::string render(std::string_view source) { return Template(source).render(nlohmann::ordered_json::object()); }

std::string compile_error(std::string_view source) {
  try {
    Template t(source);
  } catch (const Error& e) {
    return e.what();
  }
  return "(compiled)";
}

TEST(JinjaLexer, DropsOneTrailingNewline) {
  EXPECT_EQ(render("a\n"), "a");
  EXPECT_EQ(render("a\n\n"), "a\n");
}

TEST(JinjaLexer, NormalizesLineEndings) { EXPECT_EQ(render("a\r\nb\rc"), "a\nb\nc"); }

TEST(JinjaLexer, TrimBlocksDropsTheNewlineAfterBlocksAndComments) {
  EXPECT_EQ(render("{% if true %}\nx\n{% endif %}\ny"), "x\ny");
  EXPECT_EQ(render("{# c #}\nz"), "z");
  EXPECT_EQ(render("{% for i in [1, 2] %}\n  - {{ i }}\n{% endfor %}\ndone"), "  - 1\n  - 2\ndone");
}

TEST(JinjaLexer, VariablesKeepTheirNewline) { EXPECT_EQ(render("{{ 'a' }}\nb"), "a\nb"); }

TEST(JinjaLexer, LstripBlocksRemovesIndentationBeforeBlockTags) {
  EXPECT_EQ(render("  {% if true %}x{% endif %}"), "x");
  EXPECT_EQ(render("a\n\t {% if true %}x{% endif %}"), "a\nx");
  EXPECT_EQ(render("  {# c #}x"), "x");
  // Jinja 3.1.6 strips any Unicode whitespace (\s+), here a no-break space.
  EXPECT_EQ(render("a\n\u00a0{% if true %}x{% endif %}"), "a\nx");
}

TEST(JinjaLexer, LstripBlocksLeavesTextBeforeTagsAndVariablesAlone) {
  EXPECT_EQ(render("a {% if true %}x{% endif %}"), "a x");
  EXPECT_EQ(render("  {{ 'v' }}"), "  v");
}

TEST(JinjaLexer, MinusStripsAllAdjacentWhitespace) {
  EXPECT_EQ(render("a \n\t{%- if true -%} \n b {%- endif %}"), "ab");
  EXPECT_EQ(render("a  {{- 'x' -}}  b"), "axb");
  EXPECT_EQ(render("{%- if true %}\n  x\n{%- endif %}"), "  x");
  EXPECT_EQ(render("a\n  {#- c -#}\n  b"), "ab");
}

TEST(JinjaLexer, PlusTurnsLstripAndTrimOff) {
  EXPECT_EQ(render("  {%+ if true %}x{% endif %}"), "  x");
  EXPECT_EQ(render("{% if true +%}\nx{% endif %}"), "\nx");
}

TEST(JinjaLexer, RawBlocksAreData) {
  EXPECT_EQ(render("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
  EXPECT_EQ(render("{%- raw -%}\n  {{ x }}  {%- endraw %}"), "{{ x }}");
}

TEST(JinjaLexer, NumberLiterals) {
  EXPECT_EQ(render("{{ 0x1F }} {{ 0b11 }} {{ 0o17 }} {{ 1_000 }} {{ 1.5e3 }} {{ 2E-2 }}"), "31 3 15 1000 1500.0 0.02");
}

TEST(JinjaLexer, StringLiteralsDecodePythonEscapes) {
  EXPECT_EQ(render(R"({{ 'tab\there' }})"), "tab\there");
  EXPECT_EQ(render(R"({{ "q\"q" ~ 'q\'q' }})"), "q\"qq'q");
  EXPECT_EQ(render(R"({{ '\u00e9\x41\101\U0001F600' }})"), "\u00e9AA\U0001F600");
  EXPECT_EQ(render(R"({{ 'keep \q as is' }})"), R"(keep \q as is)");
  EXPECT_EQ(render(R"({{ 'a' "b" 'c' }})"), "abc");
}

TEST(JinjaLexer, ClosingBracesInsideExpressionsDoNotEndTheTag) {
  EXPECT_EQ(render("{{ {'a': {'b': 1}} }}"), "{'a': {'b': 1}}");
  EXPECT_EQ(render("{{ {'a': 1}}}"), "{'a': 1}");
}

TEST(JinjaLexer, TokensCarryLineAndColumn) {
  std::vector<Token> tokens = tokenize("ab\n  {{ x }}");
  ASSERT_GE(tokens.size(), 4u);
  EXPECT_EQ(tokens[1].kind, TokenKind::kVariableBegin);
  EXPECT_EQ(tokens[1].pos.line, 2);
  EXPECT_EQ(tokens[1].pos.column, 3);
  EXPECT_EQ(tokens[2].kind, TokenKind::kName);
  EXPECT_EQ(tokens[2].text, "x");
  EXPECT_EQ(tokens[2].pos.column, 6);
  EXPECT_EQ(tokens.back().kind, TokenKind::kEnd);
}

TEST(JinjaLexer, ErrorsNameLineAndColumn) {
  EXPECT_EQ(compile_error("{% if x %}\n  {{ 1 $ 2 }}{% endif %}"),
            "chat template: line 2, column 8: unexpected char '$'");
  EXPECT_EQ(compile_error("x\n{{ 'abc }}"), "chat template: line 2, column 4: unterminated string literal");
  EXPECT_EQ(compile_error("{{ (1 ] }}"), "chat template: line 1, column 7: unexpected ']', expected ')'");
  EXPECT_EQ(compile_error("ok {# never closed"), "chat template: line 1, column 4: missing end of comment tag");
  EXPECT_EQ(compile_error("{{ x "), "chat template: line 1, column 1: unexpected end of template, expected end of tag");
  EXPECT_EQ(compile_error("\xff"), "chat template: line 1, column 1: invalid UTF-8");
  EXPECT_EQ(compile_error(R"({{ '\ud800' }})"),
            "chat template: line 1, column 5: escape is not a valid Unicode scalar value");
  EXPECT_EQ(compile_error("{{ 99999999999999999999 }}"), "chat template: line 1, column 4: integer literal too large");
}

}  // namespace
}  // namespace tern::jinja
