// Jinja's filters (with transformers' tojson) and tests, each against what jinja2 3.1.6
// renders under transformers' environment.
#include <gtest/gtest.h>

#include "base/error.h"
#include "jinja/jinja_template.h"

namespace tern::jinja {
namespace {

using Json = nlohmann::ordered_json;

const Json kContext = Json::parse(R"({
  "xs": [3, 1, 2], "s": "Hello World", "u": "héllo wörld ß", "d": {"b": 2, "a": 1}, "f": 1.5,
  "msgs": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
           {"role": "user", "content": "ok"}],
  "tool": {"name": "f", "arguments": {"x": 1, "y": "é", "z": [true, null, 1.5]}}
})");

std::string render(std::string_view source) { return Template(source).render(kContext); }

TEST(JinjaFilters, LengthAndCount) {
  EXPECT_EQ(render("{{ xs|length }} {{ s|length }} {{ u|count }} {{ d|length }} {{ nope|length }}"), "3 11 13 2 0");
  EXPECT_THROW(render("{{ 5|length }}"), Error);
}

TEST(JinjaFilters, CaseFilters) {
  EXPECT_EQ(render("{{ s|lower }}|{{ s|upper }}|{{ u|upper }}|{{ u|title }}|{{ 'hello-world foo(bar)'|title }}|"
                   "{{ u|capitalize }}|{{ 'aBC dEF'|capitalize }}"),
            "hello world|HELLO WORLD|HÉLLO WÖRLD SS|Héllo Wörld SS|Hello-World Foo(Bar)|Héllo wörld ß|Abc def");
}

TEST(JinjaFilters, TrimStripsUnicodeWhitespaceOrGivenCharacters) {
  EXPECT_EQ(render("[{{ '  x  '|trim }}]{{ 'xxhixx'|trim('x') }}[{{ ' \t\n y \u3000'|trim }}]"), "[x]hi[y]");
}

TEST(JinjaFilters, StringAndJoin) {
  EXPECT_EQ(render("{{ 5|string }}{{ xs|string }}{{ none|string }}[{{ nope|string }}]"), "5[3, 1, 2]None[]");
  EXPECT_EQ(
      render("{{ xs|join(', ') }}|{{ xs|join }}|{{ msgs|join('/', attribute='role') }}|{{ [1, none, 'a']|join('-') }}"),
      "3, 1, 2|312|user/assistant/user|1-None-a");
}

TEST(JinjaFilters, FirstLastListItemsDefault) {
  EXPECT_EQ(render("{{ xs|first }}{{ xs|last }}{{ s|first }}{{ s|last }}[{{ []|first }}]{{ d|first }}"), "32Hd[]b");
  EXPECT_EQ(render("{{ xs|list }} {{ 'ab'|list }} {{ d|list }} {{ d|items|list }} {{ nope|items|list }}"),
            "[3, 1, 2] ['a', 'b'] ['b', 'a'] [('b', 2), ('a', 1)] []");
  EXPECT_EQ(render("{{ nope|default('dflt') }} {{ none|default('x') }} {{ ''|default('e', true) }} [{{ nope|d }}] "
                   "{{ 0|d('z', boolean=true) }}"),
            "dflt None e [] z");
}

TEST(JinjaFilters, Dictsort) {
  EXPECT_EQ(
      render("{{ d|dictsort }} {{ {'b': 1, 'A': 2, 'a': 0}|dictsort }} {{ {'b': 1, 'a': 2}|dictsort(by='value') }} "
             "{{ {'b': 1, 'a': 2}|dictsort(reverse=true) }} {{ {'b': 1, 'A': 2}|dictsort(true) }}"),
      "[('a', 1), ('b', 2)] [('A', 2), ('a', 0), ('b', 1)] [('b', 1), ('a', 2)] [('b', 1), ('a', 2)] "
      "[('A', 2), ('b', 1)]");
}

TEST(JinjaFilters, Replace) {
  EXPECT_EQ(render("{{ s|replace('l', 'L') }} {{ s|replace('l', 'L', 2) }} {{ 5|replace('5', 'five') }}"),
            "HeLLo WorLd HeLLo World five");
}

TEST(JinjaFilters, NumberConversions) {
  EXPECT_EQ(render("{{ '42'|int + 1 }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} {{ -3.9|int }} "
                   "{{ '0x1A'|int(0, 16) }} {{ ' 12 '|int }} {{ '1_000'|int }} {{ true|int }} {{ none|int }}"),
            "43 4 0 7 3 -3 26 12 1000 1 0");
  EXPECT_EQ(render("{{ '1.5'|float }} {{ 'x'|float }} {{ 2|float }} {{ ' -1e3 '|float }} {{ 'nan'|float }} "
                   "{{ 'x'|float(2.5) }}"),
            "1.5 0.0 2.0 -1000.0 nan 2.5");
  EXPECT_EQ(
      render("{{ -3|abs }} {{ -2.5|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 7|round }} "
             "{{ 2.1|round(method='ceil') }} {{ 2.9|round(0, 'floor') }} {{ 1234.5|round(-2) }} {{ -0.5|round }}"),
      "3 2.5 2.0 4.0 2.67 7 3.0 2.0 1200.0 -0.0");
}

TEST(JinjaFilters, Indent) {
  EXPECT_EQ(render("{{ 'a\nb\n\nc'|indent }}|{{ 'a\nb'|indent(2, true) }}|{{ 'a\n\nb'|indent(2, blank=true) }}|"
                   "{{ 'x\ny'|indent('> ') }}"),
            "a\n    b\n\n    c|  a\n  b|a\n  \n  b|x\n> y");
}

TEST(JinjaFilters, EscapeSafeWordcount) {
  EXPECT_EQ(render(R"({{ '<a href="x">&'|e }}{{ "'"|escape }} {{ '<b>'|safe }} {{ 'one two  three'|wordcount }})"),
            "&lt;a href=&#34;x&#34;&gt;&amp;&#39; <b> 3");
}

TEST(JinjaFilters, MapSelectReject) {
  EXPECT_EQ(
      render("{{ msgs|map(attribute='role')|list }} {{ xs|map('string')|list }} {{ ['a', 'B']|map('upper')|join }} "
             "{{ msgs|map(attribute='missing', default='-')|join }} {{ [[1, 2]]|map('join', ':')|list }}"),
      "['user', 'assistant', 'user'] ['3', '1', '2'] AB --- ['1:2']");
  EXPECT_EQ(render("{{ xs|select('odd')|list }} {{ xs|reject('odd')|list }} {{ [0, 1, '', none, 'a']|select|list }} "
                   "{{ xs|select('>', 1)|list }} {{ xs|select('in', [1, 2])|list }}"),
            "[3, 1] [2] [1, 'a'] [3, 2] [1, 2]");
  EXPECT_EQ(
      render("{{ msgs|selectattr('role', 'equalto', 'user')|map(attribute='content')|join }} "
             "{{ msgs|rejectattr('role', 'equalto', 'user')|list|length }} "
             "{{ msgs|selectattr('missing', 'undefined')|list|length }} {{ msgs|selectattr('content')|list|length }}"),
      "hiok 1 3 3");
}

TEST(JinjaFilters, SortUniqueMinMaxSum) {
  EXPECT_EQ(render("{{ xs|sort }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }} "
                   "{{ xs|sort(reverse=true) }} {{ msgs|sort(attribute='content')|map(attribute='content')|join }}"),
            "[1, 2, 3] ['A', 'b', 'c'] ['A', 'b', 'c'] [3, 2, 1] hiokyo");
  EXPECT_EQ(render("{{ [1, 2, 1, 'a', 'A']|unique|list }} {{ ['a', 'A']|unique(case_sensitive=true)|list }} "
                   "{{ msgs|unique(attribute='role')|map(attribute='content')|join }}"),
            "[1, 2, 'a'] ['a', 'A'] hiyo");
  EXPECT_EQ(render("{{ xs|max }} {{ xs|min }} {{ ['b', 'A']|max }} [{{ []|max }}] {{ xs|sum }} {{ [1, 2.5]|sum }}"),
            "3 1 b [] 6 3.5");
}

TEST(JinjaFilters, ReverseBatchAttr) {
  EXPECT_EQ(render("{{ xs|reverse|list }} {{ s|reverse }} {{ xs|batch(2)|list }} {{ xs|batch(2, 0)|list }}"),
            "[2, 1, 3] dlroW olleH [[3, 1], [2]] [[3, 1], [2, 0]]");
  // attr() reads attributes only, never dict items.
  EXPECT_EQ(render("[{{ msgs[0]|attr('role') }}] {{ msgs[0]|attr('items') is callable }}"), "[] True");
}

TEST(JinjaFilters, TojsonIsPythonJsonDumpsWithoutAsciiEscaping) {
  EXPECT_EQ(render("{{ tool|tojson }}"), R"({"name": "f", "arguments": {"x": 1, "y": "é", "z": [true, null, 1.5]}})");
  EXPECT_EQ(render("{{ tool|tojson(indent=2) }}"),
            "{\n  \"name\": \"f\",\n  \"arguments\": {\n    \"x\": 1,\n    \"y\": \"é\",\n    \"z\": [\n      true,\n"
            "      null,\n      1.5\n    ]\n  }\n}");
  EXPECT_EQ(render("{{ [1, [2, {'a': []}]]|tojson(indent='\t') }}"),
            "[\n\t1,\n\t[\n\t\t2,\n\t\t{\n\t\t\t\"a\": []\n\t\t}\n\t]\n]");
}

TEST(JinjaFilters, TojsonOptionsAndEdgeCases) {
  EXPECT_EQ(render("{{ tool.arguments|tojson(separators=(',', ':')) }}"), R"({"x":1,"y":"é","z":[true,null,1.5]})");
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}"), R"({"a": 2, "b": 1})");
  EXPECT_EQ(render(R"({{ 'é"\n\t\u0001'|tojson }})"), R"("é\"\n\t\u0001")");
  EXPECT_EQ(render("{{ 'é'|tojson(ensure_ascii=true) }} {{ '😀'|tojson(true) }}"), R"("\u00e9" "\ud83d\ude00")");
  EXPECT_EQ(render("{{ []|tojson(indent=2) }} {{ {}|tojson }} {{ 1e20|tojson }} {{ (1, 2)|tojson }}"),
            "[] {} 1e+20 [1, 2]");
  EXPECT_EQ(render("{{ {1: 'a', true: 'b', none: 'c'}|tojson }}"), R"({"1": "b", "null": "c"})");
  EXPECT_THROW(render("{{ nope|tojson }}"), Error);
  EXPECT_THROW(render("{{ namespace()|tojson }}"), Error);
}

TEST(JinjaTests, TypeTests) {
  EXPECT_EQ(render("{{ x is defined }}{{ xs is defined }}{{ x is undefined }}{{ none is none }}{{ 0 is none }}"),
            "FalseTrueTrueTrueFalse");
  EXPECT_EQ(render("{{ 1 is number }}{{ f is number }}{{ true is number }}{{ 's' is number }}|{{ 1 is integer }}"
                   "{{ true is integer }}{{ f is integer }}|{{ f is float }}{{ 1 is float }}"),
            "TrueTrueTrueFalse|TrueFalseFalse|TrueFalse");
  EXPECT_EQ(render("{{ s is string }}{{ 1 is string }}|{{ d is mapping }}{{ xs is mapping }}|{{ xs is sequence }}"
                   "{{ s is sequence }}{{ d is sequence }}{{ 1 is sequence }}{{ nope is sequence }}"),
            "TrueFalse|TrueFalse|TrueTrueTrueFalseTrue");
  EXPECT_EQ(
      render("{{ xs is iterable }}{{ s is iterable }}{{ d is iterable }}{{ 1 is iterable }}{{ nope is iterable }}"),
      "TrueTrueTrueFalseTrue");
  EXPECT_EQ(render("{{ true is boolean }}{{ 1 is boolean }}|{{ true is true }}{{ 1 is true }}{{ false is false }}"
                   "{{ 0 is false }}"),
            "TrueFalse|TrueFalseTrueFalse");
  EXPECT_EQ(render("{{ range is callable }}{{ xs is callable }}{{ 'upper' is filter }}{{ 'nope' is filter }}"
                   "{{ 'odd' is test }}"),
            "TrueFalseTrueFalseTrue");
}

TEST(JinjaTests, ValueTests) {
  EXPECT_EQ(render("{{ 3 is odd }}{{ 3 is even }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(2) }}"
                   "{{ -3 is odd }}"),
            "TrueFalseTrueTrueFalseTrue");
  EXPECT_EQ(render("{{ 2 is equalto 2 }}{{ 2 is eq(3) }}{{ 3 is gt 2 }}{{ 3 is lt(2) }}{{ 3 is ge 3 }}{{ 3 is le 2 }}"
                   "{{ 2 is ne 3 }}"),
            "TrueFalseTrueFalseTrueFalseTrue");
  EXPECT_EQ(render("{{ 2 is in xs }}{{ 5 is in(xs) }}{{ 'a' is in 'cat' }}"), "TrueFalseTrue");
  EXPECT_EQ(render("{{ 'abc' is lower }}{{ 'aBc' is lower }}{{ 'ABC' is upper }}{{ '1' is upper }}"),
            "TrueFalseTrueFalse");
  EXPECT_EQ(render("{{ none is sameas none }}{{ xs is sameas xs }}{{ [] is sameas [] }}"), "TrueTrueFalse");
  EXPECT_EQ(render("{{ xs is not none }}{{ x is not defined }}"), "TrueTrue");
}

}  // namespace
}  // namespace tern::jinja
