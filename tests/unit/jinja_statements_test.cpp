// Statements and their scoping rules: if/elif/else, for with loop.*, filtering, else,
// unpacking, break/continue; set (plain, tuple, namespace attribute, block); macros with
// defaults, varargs/kwargs, recursion and call blocks; filter and with blocks.
// Expected values were checked against jinja2 3.1.6.
#include <gtest/gtest.h>

#include "base/error.h"
#include "jinja/jinja_template.h"

namespace tern::jinja {
namespace {

using Json = nlohmann::ordered_json;

const Json kContext = Json::parse(R"({
  "xs": [1, 2, 3], "d": {"a": 1, "b": 2},
  "msgs": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
})");

std::string render(std::string_view source) { return Template(source).render(kContext); }

std::string render_error(std::string_view source) {
  try {
    return "(rendered) " + render(source);
  } catch (const Error& e) {
    return e.what();
  }
}

TEST(JinjaStatements, IfElifElse) {
  EXPECT_EQ(render("{% if false %}a{% elif 0 %}b{% elif 'x' %}c{% else %}d{% endif %}"), "c");
  EXPECT_EQ(render("{% if [] %}a{% else %}b{% endif %}"), "b");
}

TEST(JinjaStatements, LoopVariables) {
  EXPECT_EQ(render("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
                   "{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}"),
            "1032TrueFalse3|2121FalseFalse3|3210FalseTrue3|");
  EXPECT_EQ(render("{% for x in xs %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}"), "-2;1-3;2-;");
  EXPECT_EQ(render("{% for x in xs %}{{ loop.cycle('a', 'b') }}{% endfor %}"), "aba");
  EXPECT_EQ(
      render("{% for x in xs %}{% for y in 'ab' %}{{ loop.index }}{{ y }}{% endfor %}{{ loop.index }} {% endfor %}"),
      "1a2b1 1a2b2 1a2b3 ");
}

TEST(JinjaStatements, LoopFilterAndElse) {
  EXPECT_EQ(render("{% for x in xs if x is odd %}{{ loop.index }}/{{ loop.length }}:{{ x }} {% endfor %}"),
            "1/2:1 2/2:3 ");
  EXPECT_EQ(render("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in xs if x > 5 %}a{% else %}none{% endfor %}"), "none");
}

TEST(JinjaStatements, LoopsOverMappingsStringsAndPairs) {
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}"), "a=1;b=2;");
  EXPECT_EQ(render("{% for k in d %}{{ k }}{% endfor %}"), "ab");
  EXPECT_EQ(render("{% for c in 'hé' %}[{{ c }}]{% endfor %}"), "[h][é]");
  EXPECT_EQ(render("{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}"), "37");
  EXPECT_EQ(render_error("{% for a, b in [[1, 2, 3]] %}{% endfor %}"),
            "chat template: line 1: cannot unpack 3 values into 2 names");
  EXPECT_EQ(render_error("{% for x in 42 %}{% endfor %}"), "chat template: line 1: 'int' object is not iterable");
}

TEST(JinjaStatements, BreakAndContinue) {
  EXPECT_EQ(render("{% for x in xs %}{% if x == 2 %}{% continue %}{% endif %}{{ x }}{% if x == 3 %}{% break %}"
                   "{% endif %}{% endfor %}"),
            "13");
  EXPECT_EQ(render("{% for x in [1, 2, 3, 4] %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% else %}E{% endfor %}"),
            "12");
}

TEST(JinjaStatements, SetAndScoping) {
  EXPECT_EQ(render("{% set a = 1 %}{% set b, c = 2, 3 %}{{ a + b + c }}"), "6");
  // A loop body's assignments stay in the loop, and each iteration starts afresh.
  EXPECT_EQ(render("{% set x = 1 %}{% for i in xs %}{% set x = i %}{% endfor %}{{ x }}"), "1");
  EXPECT_EQ(render("{% for i in xs %}[{{ y }}]{% set y = i %}{% endfor %}"), "[][][]");
  // An if does not open a scope.
  EXPECT_EQ(render("{% if true %}{% set z = 5 %}{% endif %}{{ z }}"), "5");
}

TEST(JinjaStatements, NamespacesCarryStateOutOfLoops) {
  EXPECT_EQ(render("{% set ns = namespace(total=0, items=[]) %}{% for x in xs %}{% set ns.total = ns.total + x %}"
                   "{% set ns.items = ns.items + [x * 2] %}{% endfor %}{{ ns.total }} {{ ns.items }}"),
            "6 [2, 4, 6]");
  EXPECT_EQ(render("{% set ns = namespace(found=false) %}{% for m in msgs %}{% if m.role == 'assistant' %}"
                   "{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}"),
            "True");
  EXPECT_EQ(render("{% set ns = namespace(d) %}{{ ns.a }}{{ ns.b }}{{ ns['a'] }}"), "121");
  EXPECT_EQ(render("{{ namespace(a=1) }}"), "<Namespace {'a': 1}>");
  EXPECT_EQ(render_error("{% set n = 1 %}{% set n.x = 2 %}"),
            "chat template: line 1: cannot assign attribute on non-namespace object");
}

TEST(JinjaStatements, BlockSet) {
  EXPECT_EQ(render("{% set x %}a{{ 1 + 1 }}b{% endset %}[{{ x }}]"), "[a2b]");
  EXPECT_EQ(render("{% set x | upper | replace('B', 'c') %}ab{% endset %}{{ x }}"), "Ac");
}

TEST(JinjaStatements, Macros) {
  EXPECT_EQ(render("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} "
                   "{{ greet('Bo', '?') }} {{ greet(punct='.', name='Cy') }} [{{ greet() }}]"),
            "Hi Ann! Hi Bo? Hi Cy. [Hi !]");
  EXPECT_EQ(render("{% macro m(a, b=a * 2) %}{{ b }}{% endmacro %}{{ m(3) }}"), "6");
  EXPECT_EQ(render("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}"), "54321");
  EXPECT_EQ(render("{% set g = 'outer' %}{% macro m() %}{{ g }}{% set g = 'inner' %}{{ g }}{% endmacro %}"
                   "{{ m() }} {{ g }}"),
            "outerinner outer");
}

TEST(JinjaStatements, MacroArgumentChecks) {
  EXPECT_EQ(render("{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}"),
            "1(2, 3){'k': 4}");
  EXPECT_EQ(render_error("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}"),
            "chat template: line 1: macro 'm' takes not more than 1 argument(s)");
  EXPECT_EQ(render_error("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(b=1) }}"),
            "chat template: line 1: macro 'm' takes no keyword argument 'b'");
}

TEST(JinjaStatements, CallBlocks) {
  EXPECT_EQ(render("{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}"
                   "{% call wrap('b') %}bold {{ 1 + 1 }}{% endcall %}"),
            "<b>bold 2</b>");
  EXPECT_EQ(render("{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}"
                   "{% call(x) each([1, 2]) %}<{{ x }}>{% endcall %}"),
            "<1><2>");
  EXPECT_THROW(render("{% macro m() %}x{% endmacro %}{% call m() %}body{% endcall %}"), Error);
}

TEST(JinjaStatements, FilterWithAndPrintBlocks) {
  EXPECT_EQ(render("{% filter upper %}hello {{ 'world' }}{% endfilter %}"), "HELLO WORLD");
  EXPECT_EQ(render("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]"), "3[]");
  EXPECT_EQ(render("{% with %}{% set inner = 1 %}{% endwith %}[{{ inner }}]"), "[]");
  EXPECT_EQ(render("{% print 'a', 1 %}"), "a1");
}

TEST(JinjaStatements, GenerationBlocksRenderTheirBody) {
  // transformers' {% generation %} marks assistant text; it renders as its body.
  EXPECT_EQ(render("{% for m in msgs %}{% generation %}{{ m.content }}{% endgeneration %};{% endfor %}"), "hi;yo;");
}

TEST(JinjaStatements, ListAppendMutatesInPlace) {
  // transformers' immutable sandbox refuses list.append; tern allows it (llama.cpp and
  // vLLM templates use it) with Python's semantics.
  EXPECT_EQ(render("{% set l = [] %}{% for x in xs %}{{ l.append(x * 10) or '' }}{% endfor %}{{ l }}"), "[10, 20, 30]");
}

}  // namespace
}  // namespace tern::jinja
