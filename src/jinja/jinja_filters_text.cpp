// Filters on strings and numbers, following jinja2/filters.py; tojson is transformers'
// json.dumps wrapper.
#include <utf8proc.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "base/error.h"
#include "jinja/jinja_filter_tables.h"
#include "jinja/jinja_format.h"
#include "jinja/jinja_interpreter.h"
#include "jinja/jinja_text.h"

namespace tern::jinja {
namespace {

Value str_value(Interpreter& in, std::string s) { return in.make_string(std::move(s)); }

std::string string_arg(Interpreter& in, const Value& v) { return soft_str(in, v); }

Value filter_upper(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader("upper", args, {});
  return str_value(in, py_upper(soft_str(in, v)));
}

Value filter_lower(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader("lower", args, {});
  return str_value(in, py_lower(soft_str(in, v)));
}

Value filter_capitalize(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader("capitalize", args, {});
  return str_value(in, py_capitalize(soft_str(in, v)));
}

bool is_title_separator(char32_t cp) {
  return cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || is_py_space(cp);
}

// Jinja's title filter (not str.title): words start after '-', whitespace or an
// opening bracket; the first character is upper-cased, the rest lower-cased.
Value filter_title(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader("title", args, {});
  std::string s = soft_str(in, v);
  std::string out;
  size_t pos = 0;
  bool word_start = true;
  while (pos < s.size()) {
    size_t start = pos;
    char32_t cp = next_code_point(s, pos);
    bool separator = is_title_separator(cp);
    if (separator) {
      out.append(s, start, pos - start);
    } else {
      out += word_start ? py_upper(s.substr(start, pos - start)) : py_lower(s.substr(start, pos - start));
    }
    word_start = separator;
  }
  return str_value(in, std::move(out));
}

Value filter_trim(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader a("trim", args, {"chars"});
  std::string s = soft_str(in, v);
  auto chars = a.get(0);
  if (chars && !chars->is_none()) return str_value(in, py_strip_chars(s, string_arg(in, *chars), true, true));
  return str_value(in, py_strip(s, true, true));
}

Value filter_string(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader("string", args, {});
  return v.is_undefined() ? str_value(in, "") : in.to_string(v);
}

Value filter_safe(Interpreter&, const Value& v, const CallArgs& args) {
  ArgReader("safe", args, {});
  return v;
}

Value filter_escape(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader("escape", args, {});
  std::string out;
  for (char c : soft_str(in, v)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return str_value(in, std::move(out));
}

Value filter_replace(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader a("replace", args, {"old", "new", "count"});
  Value count = a.get_or(2, Value::none());
  int64_t n = -1;
  if (!count.is_none()) {
    if (!count.is_integral()) throw tern::error("chat template: replace() count must be an integer");
    n = count.as_int();
  }
  return str_value(in, py_replace(soft_str(in, v), string_arg(in, a.required(0)), string_arg(in, a.required(1)), n));
}

Value filter_indent(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader a("indent", args, {"width", "first", "blank"});
  Value width = a.get_or(0, Value::integer(4));
  std::string indentation;
  if (width.is_string()) {
    indentation = width.str();
  } else if (width.is_integral()) {
    indentation.assign(static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(width.as_int(), 1 << 16))), ' ');
  } else {
    throw tern::error("chat template: indent() width must be an integer or a string");
  }
  bool first = truthy(a.get_or(1, Value::boolean(false)));
  bool blank = truthy(a.get_or(2, Value::boolean(false)));
  // Jinja appends "\n" (so that splitlines() keeps a trailing empty line), which
  // fails for anything but a string.
  if (v.is_undefined()) throw_undefined(v);
  if (!v.is_string()) throw tern::error("chat template: indent() needs a string, got ", type_name(v));
  std::vector<std::string> lines = py_splitlines(v.str() + "\n");
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) {
      out += '\n';
      if (blank || !lines[i].empty()) out += indentation;
    }
    out += lines[i];
  }
  if (first) out = indentation + out;
  return str_value(in, std::move(out));
}

Value filter_wordcount(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader("wordcount", args, {});
  std::string s = soft_str(in, v);
  int64_t words = 0;
  bool in_word = false;
  size_t pos = 0;
  while (pos < s.size()) {
    char32_t cp = next_code_point(s, pos);
    auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    bool word_char = cp == '_' || (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
                     (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
    if (word_char && !in_word) ++words;
    in_word = word_char;
  }
  return Value::integer(words);
}

// Python float(str): surrounding whitespace, underscores between digits, inf/nan.
std::optional<double> parse_float(std::string s) {
  s = py_strip(s, true, true);
  std::string cleaned;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '_') {
      cleaned += s[i];
      continue;
    }
    bool digit_before = i > 0 && std::isdigit(static_cast<unsigned char>(s[i - 1]));
    bool digit_after = i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]));
    if (!digit_before || !digit_after) return std::nullopt;
  }
  if (cleaned.empty()) return std::nullopt;
  std::string lower = py_lower(cleaned);
  std::string_view body = lower;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) body.remove_prefix(1);
  if (body == "inf" || body == "infinity" || body == "nan") {
    double x = body == "nan" ? NAN : INFINITY;
    return lower[0] == '-' ? -x : x;
  }
  if (body.empty() || !(std::isdigit(static_cast<unsigned char>(body[0])) || body[0] == '.')) return std::nullopt;
  char* end = nullptr;
  double x = std::strtod(cleaned.c_str(), &end);
  if (end != cleaned.c_str() + cleaned.size()) return std::nullopt;
  return x;
}

// Python int(str, base) for bases 2..36 (and 0: prefix decides).
std::optional<int64_t> parse_int(std::string s, int base) {
  s = py_strip(s, true, true);
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  auto has_prefix = [&](char p) { return i + 1 < s.size() && s[i] == '0' && (s[i + 1] | 0x20) == p; };
  int prefix_base = has_prefix('x') ? 16 : has_prefix('o') ? 8 : has_prefix('b') ? 2 : 0;
  if (prefix_base != 0 && (base == 0 || base == prefix_base)) {
    base = prefix_base;
    i += 2;
    if (i < s.size() && s[i] == '_') ++i;
  } else if (base == 0) {
    base = 10;
  }
  std::string digits;
  for (; i < s.size(); ++i) {
    if (s[i] == '_' && !digits.empty() && i + 1 < s.size() && s[i + 1] != '_') continue;
    int d = std::isdigit(static_cast<unsigned char>(s[i]))   ? s[i] - '0'
            : std::isalpha(static_cast<unsigned char>(s[i])) ? (s[i] | 0x20) - 'a' + 10
                                                             : 99;
    if (d >= base) return std::nullopt;
    digits += s[i];
  }
  if (digits.empty()) return std::nullopt;
  errno = 0;
  long long value = std::strtoll(digits.c_str(), nullptr, base);
  if (errno == ERANGE) throw tern::error("chat template: int() result does not fit in 64 bits");
  return negative ? -value : value;
}

std::optional<int64_t> float_to_int(double x) {
  if (std::isnan(x)) return std::nullopt;
  if (std::isinf(x) || std::fabs(x) >= 9.2e18) throw tern::error("chat template: cannot convert float ", x, " to int");
  return static_cast<int64_t>(std::trunc(x));
}

Value filter_int(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader a("int", args, {"default", "base"});
  Value fallback = a.get_or(0, Value::integer(0));
  Value base = a.get_or(1, Value::integer(10));
  if (v.is_undefined()) throw_undefined(v);
  if (v.is_integral()) return Value::integer(v.as_int());
  if (v.is(Kind::kFloat)) {
    auto i = float_to_int(v.as_double());
    return i ? Value::integer(*i) : fallback;
  }
  if (v.is_string()) {
    if (!base.is_integral()) throw tern::error("chat template: int() base must be an integer");
    if (auto i = parse_int(v.str(), static_cast<int>(base.as_int()))) return Value::integer(*i);
    if (auto f = parse_float(v.str()))
      if (auto i = float_to_int(*f)) return Value::integer(*i);
  }
  (void)in;
  return fallback;
}

Value filter_float(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader a("float", args, {"default"});
  Value fallback = a.get_or(0, Value::number(0.0));
  if (v.is_undefined()) throw_undefined(v);
  if (v.is_number()) return Value::number(v.as_double());
  if (v.is_string())
    if (auto f = parse_float(v.str())) return Value::number(*f);
  (void)in;
  return fallback;
}

Value filter_abs(Interpreter&, const Value& v, const CallArgs& args) {
  ArgReader("abs", args, {});
  if (v.is_integral()) {
    if (v.as_int() == INT64_MIN) throw tern::error("chat template: abs() result does not fit in 64 bits");
    return Value::integer(std::llabs(v.as_int()));
  }
  if (v.is(Kind::kFloat)) return Value::number(std::fabs(v.as_double()));
  if (v.is_undefined()) throw_undefined(v);
  throw tern::error("chat template: bad operand type for abs(): '", type_name(v), "'");
}

// Python round(x, ndigits) on a float: correctly rounded, ties to even.
double round_float(double x, int64_t digits) {
  if (!std::isfinite(x)) return x;
  if (digits >= 0) {
    if (digits > 330) return x;  // beyond any double's precision
    int n = static_cast<int>(digits);
    std::string buf(static_cast<size_t>(std::snprintf(nullptr, 0, "%.*f", n, x)) + 1, '\0');
    std::snprintf(buf.data(), buf.size(), "%.*f", n, x);
    return std::strtod(buf.c_str(), nullptr);
  }
  double scale = std::pow(10.0, static_cast<double>(-digits));
  double y = x / scale;
  double z = std::nearbyint(y);  // default rounding mode: ties to even
  return z * scale;
}

Value filter_round(Interpreter&, const Value& v, const CallArgs& args) {
  ArgReader a("round", args, {"precision", "method"});
  Value precision = a.get_or(0, Value::integer(0));
  if (!precision.is_integral()) throw tern::error("chat template: round() precision must be an integer");
  std::string method = a.get(1) && a.get(1)->is_string() ? a.get(1)->str() : "common";
  if (a.get(1) && !a.get(1)->is_string()) throw tern::error("chat template: round() method must be a string");
  if (method != "common" && method != "ceil" && method != "floor")
    throw tern::error("chat template: round() method must be 'common', 'ceil' or 'floor'");
  if (v.is_undefined()) throw_undefined(v);
  if (!v.is_number()) throw tern::error("chat template: round() needs a number, got ", type_name(v));
  int64_t digits = precision.as_int();
  if (method == "common") {
    if (v.is_integral() && digits >= 0) return Value::integer(v.as_int());
    return Value::number(round_float(v.as_double(), digits));
  }
  double scale = std::pow(10.0, static_cast<double>(digits));
  double scaled = v.as_double() * scale;
  return Value::number((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

Value filter_tojson(Interpreter& in, const Value& v, const CallArgs& args) {
  ArgReader a("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonOptions options;
  options.ensure_ascii = truthy(a.get_or(0, Value::boolean(false)));
  Value indent = a.get_or(1, Value::none());
  if (!indent.is_none()) {
    options.indent_set = true;
    if (indent.is_string()) {
      options.indent = indent.str();
    } else if (indent.is_integral()) {
      options.indent.assign(static_cast<size_t>(std::clamp<int64_t>(indent.as_int(), 0, 1 << 10)), ' ');
    } else {
      throw tern::error("chat template: tojson() indent must be an integer or a string");
    }
    options.item_separator = ",";
  }
  Value separators = a.get_or(2, Value::none());
  if (!separators.is_none()) {
    if (!separators.is(Kind::kList) || separators.list().items.size() != 2 || !separators.list().items[0].is_string() ||
        !separators.list().items[1].is_string())
      throw tern::error("chat template: tojson() separators must be a pair of strings");
    options.item_separator = separators.list().items[0].str();
    options.key_separator = separators.list().items[1].str();
  }
  options.sort_keys = truthy(a.get_or(3, Value::boolean(false)));
  std::string out;
  append_json(out, v, options, in.limits().max_output_bytes);
  return str_value(in, std::move(out));
}

constexpr FilterEntry kTextFilters[] = {
    {"abs", filter_abs},
    {"capitalize", filter_capitalize},
    {"e", filter_escape},
    {"escape", filter_escape},
    {"float", filter_float},
    {"indent", filter_indent},
    {"int", filter_int},
    {"lower", filter_lower},
    {"replace", filter_replace},
    {"round", filter_round},
    {"safe", filter_safe},
    {"string", filter_string},
    {"title", filter_title},
    {"tojson", filter_tojson},
    {"trim", filter_trim},
    {"upper", filter_upper},
    {"wordcount", filter_wordcount},
};

}  // namespace

std::string soft_str(Interpreter& in, const Value& v) {
  if (v.is_string()) return v.str();
  std::string s;
  append_py_str(s, v, in.limits().max_output_bytes);
  return s;
}

std::span<const FilterEntry> text_filters() { return kTextFilters; }

}  // namespace tern::jinja
