// Expressions evaluate and print as Python does under transformers' Jinja: str()/repr()
// of values, float formatting, operators, lookups, slicing, and Jinja's default
// Undefined. Expected values were checked against jinja2 3.1.6.
#include <gtest/gtest.h>

#include "base/error.h"
#include "jinja/jinja_template.h"

namespace tern::jinja {
namespace {

using Json = nlohmann::ordered_json;

const Json kContext = Json::parse(R"({
  "d": {"z": 1, "a": 2}, "i": 1, "f": 1.0, "e": 1e20,
  "m": {"role": "user", "content": "hi", "items": [1]},
  "xs": [1, 2, 3], "n": 5
})");

std::string render(std::string_view source) { return Template(source).render(kContext); }

std::string render_error(std::string_view source) {
  try {
    return "(rendered) " + render(source);
  } catch (const Error& e) {
    return e.what();
  }
}

TEST(JinjaExpressions, PrintsScalarsLikePython) {
  EXPECT_EQ(render("{{ none }} {{ true }} {{ false }} {{ 42 }} {{ -7 }}"), "None True False 42 -7");
}

TEST(JinjaExpressions, PrintsFloatsLikePythonRepr) {
  EXPECT_EQ(render("{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 1e-4 }} {{ 1e-5 }} {{ 1/3 }} {{ -0.0 }} "
                   "{{ 2.5e-7 }} {{ 123456789.123 }}"),
            "1.0 0.30000000000000004 1e+16 1000000000000000.0 0.0001 1e-05 0.3333333333333333 -0.0 2.5e-07 "
            "123456789.123");
}

TEST(JinjaExpressions, PrintsContainersWithRepr) {
  EXPECT_EQ(render("{{ [1, 'a', none, true, 1.5] }} {{ {'k': 'v', 'n': [1]} }} {{ (1, 'a') }}"),
            "[1, 'a', None, True, 1.5] {'k': 'v', 'n': [1]} (1, 'a')");
  EXPECT_EQ(render(R"({{ ["it's", 'say "hi"', 'both \' and "', '\n\t\\', '\x7f'] }})"),
            R"(["it's", 'say "hi"', 'both \' and "', '\n\t\\', '\x7f'])");
  EXPECT_EQ(render(R"({{ ['é', '\u00a0', '\u200b', '😀', '\u0085'] }})"), R"(['é', '\xa0', '\u200b', '😀', '\x85'])");
}

TEST(JinjaExpressions, JsonContextKeepsKeyOrderAndNumberTypes) {
  EXPECT_EQ(render("{{ d }} {{ i }} {{ f }} {{ e }}"), "{'z': 1, 'a': 2} 1 1.0 1e+20");
}

TEST(JinjaExpressions, Arithmetic) {
  EXPECT_EQ(render("{{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7.5 % 2 }} {{ 2 ** 10 }} "
                   "{{ 2 ** -1 }} {{ true + true }} {{ 4 / 2 }}"),
            "3.5 3 -4 1 2 1.5 1024 0.5 2 2.0");
  EXPECT_EQ(render("{{ 'ab' + 'cd' }} {{ 'ab' * 2 }} {{ 2 * 'ab' }} {{ 'x' ~ 1 ~ none ~ [1] }}"),
            "abcd abab abab x1None[1]");
  EXPECT_EQ(render("{{ [1] + [2] }} {{ [0] * 3 }} {{ (1,) + (2,) }}"), "[1, 2] [0, 0, 0] (1, 2)");
}

TEST(JinjaExpressions, ArithmeticErrors) {
  EXPECT_EQ(render_error("{{ 1 / 0 }}"), "chat template: line 1: division by zero");
  EXPECT_EQ(render_error("{{ 'a' + 1 }}"), "chat template: line 1: unsupported operand type(s) for +: 'str' and 'int'");
  EXPECT_EQ(render_error("{{ 1 < 'a' }}"),
            "chat template: line 1: '<' not supported between instances of 'int' and 'str'");
  // Python would use a big integer; tern refuses rather than wrap around.
  EXPECT_EQ(render_error("{{ 2 ** 64 }}"), "chat template: line 1: integer result does not fit in 64 bits");
}

TEST(JinjaExpressions, ComparisonsAndMembership) {
  EXPECT_EQ(render("{{ 1 == 1.0 }} {{ (1, 2) == [1, 2] }} {{ [1, 2] == [1, 2] }} {{ {'a': 1} == {'a': 1} }} "
                   "{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'a' in {'a': 1} }} {{ 3 not in [1] }} {{ 'a' < 'b' }} "
                   "{{ [1, 2] < [1, 3] }} {{ true == 1 }}"),
            "True False True True True True True True True True True");
}

TEST(JinjaExpressions, AttributeSyntaxPrefersMethodsAndItemSyntaxPrefersItems) {
  EXPECT_EQ(render("{{ m.role }} {{ m['content'] }} {{ m.items is callable }} {{ m['items'] }}"), "user hi True [1]");
}

TEST(JinjaExpressions, MissingItemsAreUndefined) {
  EXPECT_EQ(render("{{ m.missing }}|{{ m['missing'] }}|{{ m.missing is defined }}"), "||False");
  EXPECT_EQ(render("{{ none.x }}|{{ none[0] }}|{{ n.x }}"), "||");
  EXPECT_EQ(render("{{ xs[0] }} {{ xs[-1] }} {{ xs[9] }}|{{ 'héllo'[1] }}|{{ 'abc'[-1] }}"), "1 3 |é|c");
}

TEST(JinjaExpressions, SlicesCountCodePoints) {
  EXPECT_EQ(render("{{ xs[1:] }} {{ xs[:-1] }} {{ xs[::-1] }} {{ xs[::2] }} {{ 'héllo'[::-1] }} {{ 'abc'[1:99] }} "
                   "{{ xs[-2:] }} {{ xs[5:] }}"),
            "[2, 3] [1, 2] [3, 2, 1] [1, 3] olléh bc [2, 3] []");
  EXPECT_EQ(render_error("{{ n[1:] }}"), "chat template: line 1: 'int' object is not subscriptable");
  EXPECT_EQ(render_error("{{ xs[1:2:0] }}"), "chat template: line 1: slice step cannot be zero");
}

TEST(JinjaExpressions, UndefinedPrintsEmptyIsFalsyAndIteratesAsEmpty) {
  EXPECT_EQ(render("{{ nope }}|{{ nope ~ 'x' }}|{{ nope is defined }}|{% for x in nope %}{% endfor %}|"
                   "{{ nope|length }}|{{ nope == nope }}|{{ nope == none }}|{{ not nope }}"),
            "|x|False||0|True|False|True");
}

TEST(JinjaExpressions, UsingUndefinedFails) {
  for (const char* source : {"{{ nope + 1 }}", "{{ nope.attr }}", "{{ nope() }}", "{{ nope[0] }}", "{{ -nope }}"})
    EXPECT_EQ(render_error(source), "chat template: line 1: 'nope' is undefined") << source;
  EXPECT_EQ(render_error("{{ m.missing.deeper }}"), "chat template: line 1: 'missing' is undefined");
}

TEST(JinjaExpressions, RuntimeErrorsNameTheLine) {
  EXPECT_EQ(render_error("a\nb\n{% if true %}\n  {{ xs + 1 }}\n{% endif %}"),
            "chat template: line 4: unsupported operand type(s) for +: 'list' and 'int'");
}

}  // namespace
}  // namespace tern::jinja
