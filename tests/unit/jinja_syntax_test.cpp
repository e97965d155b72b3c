// Jinja's grammar: operator precedence (Jinja's, which differs from Python's for ** and
// unary minus), and syntax errors reported at compile time with line and column.
// Expected values were checked against jinja2 3.1.6.
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

TEST(JinjaSyntax, ArithmeticPrecedence) {
  EXPECT_EQ(render("{{ 1 + 2 * 3 }}"), "7");
  EXPECT_EQ(render("{{ 10 - 2 - 3 }} {{ 2 * 3 % 4 }} {{ 7 // 2 * 2 }}"), "5 2 6");
  // Jinja's ** is left-associative and binds looser than unary minus.
  EXPECT_EQ(render("{{ 2 ** 3 ** 2 }}"), "64");
  EXPECT_EQ(render("{{ -2 ** 2 }}"), "4");
}

TEST(JinjaSyntax, FiltersBindTighterThanOperators) {
  EXPECT_EQ(render("{{ -1|abs }}"), "1");
  EXPECT_EQ(render("{{ 2 * 3|string }}"), "33");
  EXPECT_EQ(render("{{ [1,2,3]|join('-') ~ '!' }}"), "1-2-3!");
}

TEST(JinjaSyntax, TildeBindsTighterThanPlus) {
  EXPECT_THROW(render("{{ 'a' ~ 1 + 2 }}"), Error);  // ('a' ~ 1) + 2
  EXPECT_EQ(render("{{ 'a' ~ (1 + 2) }}"), "a3");
}

TEST(JinjaSyntax, LogicAndComparisons) {
  EXPECT_EQ(render("{{ not 1 == 2 }}"), "True");
  EXPECT_EQ(render("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }}"), "True False");
  EXPECT_EQ(render("{{ 'a' in 'abc' and not false or 0 }}"), "True");
  EXPECT_EQ(render("{{ none or [] or 'last' }} {{ 0 and 1 }}"), "last 0");
  EXPECT_EQ(render("{{ 2 is divisibleby 2 and 3 is odd }}"), "True");
  EXPECT_EQ(render("{{ x is defined and x > 1 }}"), "False");
}

TEST(JinjaSyntax, ConditionalExpressions) {
  EXPECT_EQ(render("{{ 1 if false else 2 if true else 3 }}"), "2");
  EXPECT_EQ(render("[{{ 'ab' if 1 > 2 }}]"), "[]");
}

TEST(JinjaSyntax, TuplesAndParentheses) {
  EXPECT_EQ(render("{{ (1) }} {{ (1,) }} {{ () }} {{ 1, 2 }}"), "1 (1,) () (1, 2)");
  EXPECT_EQ(render("{{ [1, 2][0] + (3, 4)[1] }}"), "5");
  EXPECT_EQ(render("{{ {'a': 1}['a'] + {'b': [5]}.b[0] }}"), "6");
}

TEST(JinjaSyntax, ErrorsNameLineAndColumn) {
  EXPECT_EQ(compile_error("line\n{{ 1 + }}"), "chat template: line 2, column 8: unexpected end of print statement");
  EXPECT_EQ(compile_error("{{ }}"),
            "chat template: line 1, column 4: expected an expression, got end of print statement");
  EXPECT_EQ(compile_error("{% if x %}\nunclosed"),
            "chat template: line 2, column 9: unexpected end of template, expected 'elif' or 'else' or 'endif'");
  EXPECT_EQ(compile_error("a\n{% endif %}"), "chat template: line 2, column 4: unknown or unsupported tag 'endif'");
  EXPECT_EQ(compile_error("{% include 'other.jinja' %}"),
            "chat template: line 1, column 4: unknown or unsupported tag 'include'");
  EXPECT_EQ(compile_error("{% break %}"), "chat template: line 1, column 4: 'break' outside of a loop");
  EXPECT_EQ(compile_error("{% macro m(a=1, b) %}{% endmacro %}"),
            "chat template: line 1, column 18: non-default argument follows default argument");
  EXPECT_EQ(compile_error("{{ f(a=1, 2) }}"),
            "chat template: line 1, column 11: positional argument follows keyword argument");
  EXPECT_EQ(compile_error("{% set 1 = 2 %}"), "chat template: line 1, column 8: expected a name, got number");
  EXPECT_EQ(compile_error("{% for x in xs recursive %}{% endfor %}"),
            "chat template: line 1, column 16: recursive loops are not supported");
  EXPECT_EQ(compile_error("{{ 1 is number is true }}"),
            "chat template: line 1, column 16: you cannot chain multiple tests with is");
}

TEST(JinjaSyntax, BreakInsideAMacroInsideALoopIsStillOutsideALoop) {
  EXPECT_EQ(compile_error("{% for x in xs %}{% macro m() %}{% break %}{% endmacro %}{% endfor %}"),
            "chat template: line 1, column 36: 'break' outside of a loop");
}

TEST(JinjaSyntax, UnknownFiltersAndTestsFailAtCompileTimeOutsideIfBranches) {
  EXPECT_EQ(compile_error("{{ x|nosuchfilter }}"), "chat template: line 1, column 6: no filter named 'nosuchfilter'");
  EXPECT_EQ(compile_error("{{ x is nosuchtest }}"), "chat template: line 1, column 6: no test named 'nosuchtest'");
  EXPECT_EQ(compile_error("{% for x in xs %}{{ x|nosuchfilter }}{% endfor %}"),
            "chat template: line 1, column 23: no filter named 'nosuchfilter'");
  // As in Jinja, inside an if (or a conditional expression) they fail only when run.
  EXPECT_EQ(render("{% if false %}{{ x|nosuchfilter }}{% endif %}ok"), "ok");
  EXPECT_EQ(render("{{ 'ok' if true else x is nosuchtest }}"), "ok");
  EXPECT_THROW(render("{% if true %}{{ 1|nosuchfilter }}{% endif %}"), Error);
}

TEST(JinjaSyntax, JinjaFiltersTernLacksFailOnlyWhenCalled) {
  Template t("{% if use %}{{ 'a b'|wordwrap(1) }}{% endif %}ok");
  EXPECT_EQ(t.render({{"use", false}}), "ok");
  EXPECT_THROW(t.render({{"use", true}}), Error);
}

TEST(JinjaSyntax, NestingIsBounded) {
  std::string deep = "{{ " + std::string(200, '(') + "1" + std::string(200, ')') + " }}";
  EXPECT_NE(compile_error(deep).find("template nested too deeply"), std::string::npos);
  std::string blocks;
  for (int i = 0; i < 200; ++i) blocks += "{% if true %}";
  EXPECT_NE(compile_error(blocks).find("template nested too deeply"), std::string::npos);
  EXPECT_EQ(render("{{ " + std::string(20, '(') + "1" + std::string(20, ')') + " }}"), "1");
}

}  // namespace
}  // namespace tern::jinja
