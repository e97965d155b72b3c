// Python methods templates call on strings and dicts, and list.append. Expected values
// were checked against jinja2 3.1.6 (list.append aside: transformers' sandbox refuses it).
#include <gtest/gtest.h>

#include "base/error.h"
#include "jinja/jinja_template.h"

namespace tern::jinja {
namespace {

using Json = nlohmann::ordered_json;

std::string render(std::string_view source) {
  return Template(source).render(Json{{"s", "Hello World"}, {"u", "héllo wörld"}});
}

TEST(JinjaMethods, StartswithEndswith) {
  EXPECT_EQ(render("{{ s.startswith('Hell') }}{{ s.startswith(('x', 'He')) }}{{ s.endswith('ld') }}"
                   "{{ s.endswith(('x', 'y')) }}"),
            "TrueTrueTrueFalse");
}

TEST(JinjaMethods, SplitAndRsplit) {
  EXPECT_EQ(render("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} "
                   "{{ 'a b c'.rsplit(' ', 1) }} {{ '  a b  c '.rsplit(None, 1) }} {{ 'a\u3000b'.split() }}"),
            "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b c'] ['a b', 'c'] ['  a b', 'c'] ['a', 'b']");
  EXPECT_THROW(render("{{ ''.split('') }}"), Error);
  EXPECT_EQ(render("{{ 'a\nb\r\nc\n'.splitlines() }}"), "['a', 'b', 'c']");
}

TEST(JinjaMethods, Strip) {
  EXPECT_EQ(render("[{{ '  x '.strip() }}][{{ '  x '.lstrip() }}][{{ '  x '.rstrip() }}][{{ 'xyhiyx'.strip('xy') }}]"),
            "[x][x ][  x][hi]");
}

TEST(JinjaMethods, CaseMethodsFollowPythonNotJinjaFilters) {
  // str.title() starts a word after any non-letter ("2X"); the title filter does not.
  EXPECT_EQ(render("{{ s.upper() }} {{ s.lower() }} {{ 'hello wORLD 2x'.title() }} {{ 'hELLO'.capitalize() }} "
                   "{{ u.title() }}"),
            "HELLO WORLD hello world Hello World 2X Hello Héllo Wörld");
}

TEST(JinjaMethods, ReplaceCountFind) {
  EXPECT_EQ(render("{{ s.replace('l', 'L') }} {{ s.replace('l', 'L', 1) }} {{ 'abc'.replace('', '-') }}"),
            "HeLLo WorLd HeLlo World -a-b-c-");
  // find() counts code points, not bytes.
  EXPECT_EQ(render("{{ s.count('l') }} {{ s.find('World') }} {{ u.find('wörld') }} {{ s.find('zz') }} "
                   "{{ 'aaa'.count('aa') }}"),
            "3 6 6 -1 1");
}

TEST(JinjaMethods, JoinAndFormat) {
  EXPECT_EQ(render("{{ ', '.join(['a', 'b']) }}"), "a, b");
  EXPECT_THROW(render("{{ ', '.join([1]) }}"), Error);
  EXPECT_EQ(render("{{ '{} and {}'.format(1, 'x') }} {{ '{1}{0}'.format('a', 'b') }} {{ '{name}!'.format(name='x') }} "
                   "{{ '{{x}}'.format() }}"),
            "1 and x ba x! {x}");
  EXPECT_THROW(render("{{ '{} {0}'.format(1) }}"), Error);
}

TEST(JinjaMethods, CharacterClasses) {
  EXPECT_EQ(
      render("{{ '12'.isdigit() }}{{ '1a'.isdigit() }}{{ ''.isdigit() }}{{ 'ab'.isalpha() }}{{ ' \t'.isspace() }}"),
      "TrueFalseFalseTrueTrue");
}

TEST(JinjaMethods, DictMethods) {
  EXPECT_EQ(render("{% set d = {'a': 1, 'b': [2]} %}{{ d.items()|list }} {{ d.keys()|list }} {{ d.values()|list }} "
                   "{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 5) }}"),
            "[('a', 1), ('b', [2])] ['a', 'b'] [1, [2]] 1 None 5");
}

TEST(JinjaMethods, ListAppendReturnsNoneAndOnlyListsHaveIt) {
  EXPECT_EQ(render("{% set l = [1] %}{{ l.append(2) }} {{ l }}"), "None [1, 2]");
  EXPECT_EQ(render("{{ (1, 2).append is defined }} {{ {'a': 1}.append is defined }}"), "False False");
}

}  // namespace
}  // namespace tern::jinja
