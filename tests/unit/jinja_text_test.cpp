// The Python string and number semantics the interpreter is built on: code-point counting,
// Unicode whitespace, split/strip/replace, full case mappings, float repr and json.dumps
// escaping. Expected values are CPython 3's.
#include "jinja/jinja_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "base/error.h"
#include "jinja/jinja_format.h"

namespace tern::jinja {
namespace {

using Strings = std::vector<std::string>;

TEST(JinjaText, CountsCodePoints) {
  EXPECT_EQ(code_point_count("héllo 😀"), 7u);
  EXPECT_EQ(code_point_offsets("aé😀"), (std::vector<size_t>{0, 1, 3, 7}));
  EXPECT_EQ(py_find("héllo wörld", "wörld"), 6);
  EXPECT_EQ(py_find("abc", "z"), -1);
}

TEST(JinjaText, UnicodeWhitespace) {
  for (char32_t cp : {U' ', U'\t', U'\n', U'\x0b', U'\x0c', U'\r', U'\x1c', U'\x1f', U'\x85', U'\xa0', U'\u2000',
                      U'\u2028', U'\u3000'})
    EXPECT_TRUE(is_py_space(cp)) << static_cast<uint32_t>(cp);
  for (char32_t cp : {U'a', U'\u200b', U'\ufeff', U'_'}) EXPECT_FALSE(is_py_space(cp)) << static_cast<uint32_t>(cp);
  EXPECT_EQ(py_strip(" \u3000a\x1f"
                     "b ",
                     true, true),
            "a\x1f"
            "b");
  EXPECT_EQ(py_strip("  x  ", true, false), "x  ");
  EXPECT_EQ(py_strip_chars("xyhiyx", "xy", true, true), "hi");
}

TEST(JinjaText, Split) {
  EXPECT_EQ(py_split_whitespace("a  b c", 1), (Strings{"a", "b c"}));
  EXPECT_EQ(py_split_whitespace("a\u00a0b", -1), (Strings{"a", "b"}));
  EXPECT_EQ(py_split_whitespace("   ", -1), Strings{});
  EXPECT_EQ(py_split("a,b,,c", ",", -1), (Strings{"a", "b", "", "c"}));
  EXPECT_EQ(py_split("a,b,c", ",", 1), (Strings{"a", "b,c"}));
  EXPECT_EQ(py_splitlines("a\u0085b\u2028c\r\nd\n"), (Strings{"a", "b", "c", "d"}));
}

TEST(JinjaText, ReplaceAndCount) {
  EXPECT_EQ(py_replace("hello", "l", "L", -1), "heLLo");
  EXPECT_EQ(py_replace("hello", "l", "L", 1), "heLlo");
  EXPECT_EQ(py_replace("abc", "", "-", -1), "-a-b-c-");
  EXPECT_EQ(py_replace("é", "", "-", -1), "-é-");
  EXPECT_EQ(py_count("aaa", "aa"), 1);
  EXPECT_EQ(py_count("héllo", ""), 6);
}

TEST(JinjaText, FullCaseMappings) {
  EXPECT_EQ(py_upper("straße ﬁx"), "STRASSE FIX");
  EXPECT_EQ(py_lower("ΟΔΟΣ ΣΑΣ"), "οδος σας");  // final sigma
  EXPECT_EQ(py_lower("İ"), "i\u0307");
  EXPECT_EQ(py_title("ß"), "Ss");
  EXPECT_EQ(py_title("hello wORLD 2x"), "Hello World 2X");
  EXPECT_EQ(py_capitalize("ǆemal"), "ǅemal");
}

TEST(JinjaText, Printability) {
  EXPECT_TRUE(is_py_printable(U'a'));
  EXPECT_TRUE(is_py_printable(U'😀'));
  EXPECT_FALSE(is_py_printable(U'\xa0'));
  EXPECT_FALSE(is_py_printable(U'\u200b'));
  EXPECT_FALSE(is_py_printable(U'\n'));
}

TEST(JinjaFormat, FloatReprMatchesPython) {
  const std::pair<double, const char*> cases[] = {
      {0.1, "0.1"},
      {1e16, "1e+16"},
      {1e-5, "1e-05"},
      {123.0, "123.0"},
      {-1.5e-300, "-1.5e-300"},
      {5e-324, "5e-324"},
      {1.7976931348623157e+308, "1.7976931348623157e+308"},
      {9007199254740993.0, "9007199254740992.0"},
      {0.000123, "0.000123"},
      {1234567890123456.7, "1234567890123456.8"},
      {12345678901234567.0, "1.2345678901234568e+16"},
      {100.0, "100.0"},
      {1e22, "1e+22"},
      {-0.0, "-0.0"},
      {std::numeric_limits<double>::infinity(), "inf"},
      {std::nan(""), "nan"},
  };
  for (const auto& [value, expected] : cases) EXPECT_EQ(py_float_repr(value), expected) << expected;
}

TEST(JinjaFormat, JsonStringEscapes) {
  Heap heap(1 << 20);
  std::string out;
  append_json(out, heap.make_string("q\" b\\ \n\r\t\b\f \x01 \x7f é 😀"), JsonOptions{}, 1 << 20);
  EXPECT_EQ(out, R"("q\" b\\ \n\r\t\b\f \u0001 )"
                 "\x7f"
                 R"( é 😀")");
  out.clear();
  JsonOptions ascii;
  ascii.ensure_ascii = true;
  append_json(out, heap.make_string("\x7f é 😀"), ascii, 1 << 20);
  EXPECT_EQ(out, R"("\u007f \u00e9 \ud83d\ude00")");
}

TEST(JinjaFormat, PrintingStopsAtTheByteLimit) {
  Heap heap(1 << 20);
  ListObj* list = heap.make_list();
  for (int i = 0; i < 1000; ++i) heap.append(*list, heap.make_string(std::string(100, 'x')));
  std::string out;
  EXPECT_THROW(append_py_str(out, Value::list(list), 10000), Error);
  EXPECT_LT(out.size(), 10200u);
}

}  // namespace
}  // namespace tern::jinja
