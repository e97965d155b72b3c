#include "jinja/jinja_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "base/error.h"
#include "jinja/jinja_text.h"

namespace tern::jinja {
namespace {

// Deeper nesting means a cycle or an attack; Python would raise RecursionError.
constexpr int kMaxNesting = 512;

void check(const std::string& out, size_t max_bytes, int depth) {
  if (out.size() > max_bytes) throw tern::error("chat template: output budget of ", max_bytes, " bytes exceeded");
  if (depth > kMaxNesting) throw tern::error("chat template: value nested too deeply to print");
}

void append_hex(std::string& out, const char* prefix, unsigned value, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%s%0*x", prefix, digits, value);
  out += buf;
}

void append_repr_string(std::string& out, const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  out += quote;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t start = pos;
    char32_t cp = next_code_point(s, pos);
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7F) {
      append_hex(out, "\\x", cp, 2);
    } else if (cp < 0x7F || is_py_printable(cp)) {
      out.append(s, start, pos - start);
    } else if (cp <= 0xFF) {
      append_hex(out, "\\x", cp, 2);
    } else if (cp <= 0xFFFF) {
      append_hex(out, "\\u", cp, 4);
    } else {
      append_hex(out, "\\U", cp, 8);
    }
  }
  out += quote;
}

void append_repr_at(std::string& out, const Value& v, size_t max_bytes, int depth);

void append_str_at(std::string& out, const Value& v, size_t max_bytes, int depth) {
  switch (v.kind()) {
    case Kind::kUndefined:
      return;
    case Kind::kString:
      out += v.str();
      break;
    case Kind::kNamespace:
      out += "<Namespace ";
      append_repr_at(out, Value::dict(&v.dict()), max_bytes, depth + 1);
      out += '>';
      break;
    default:
      append_repr_at(out, v, max_bytes, depth);
  }
  check(out, max_bytes, depth);
}

void append_repr_at(std::string& out, const Value& v, size_t max_bytes, int depth) {
  check(out, max_bytes, depth);
  switch (v.kind()) {
    case Kind::kUndefined:
      out += "Undefined";
      break;
    case Kind::kNone:
      out += "None";
      break;
    case Kind::kBool:
      out += v.as_bool() ? "True" : "False";
      break;
    case Kind::kInt:
      out += std::to_string(v.as_int());
      break;
    case Kind::kFloat:
      out += py_float_repr(v.as_double());
      break;
    case Kind::kString:
      append_repr_string(out, v.str());
      break;
    case Kind::kList: {
      const ListObj& list = v.list();
      out += list.is_tuple ? '(' : '[';
      for (size_t i = 0; i < list.items.size(); ++i) {
        if (i > 0) out += ", ";
        append_repr_at(out, list.items[i], max_bytes, depth + 1);
      }
      if (list.is_tuple && list.items.size() == 1) out += ',';
      out += list.is_tuple ? ')' : ']';
      break;
    }
    case Kind::kDict: {
      out += '{';
      bool first = true;
      for (const auto& [key, value] : v.dict().entries) {
        if (!first) out += ", ";
        first = false;
        append_repr_at(out, key, max_bytes, depth + 1);
        out += ": ";
        append_repr_at(out, value, max_bytes, depth + 1);
      }
      out += '}';
      break;
    }
    case Kind::kNamespace:
      append_str_at(out, v, max_bytes, depth);
      break;
    case Kind::kLoop:
      out += "<LoopContext " + std::to_string(v.loop().index0 + 1) + "/" + std::to_string(v.loop().length()) + ">";
      break;
    case Kind::kCallable:
      out += "<function>";
      break;
  }
  check(out, max_bytes, depth);
}

void append_json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  size_t pos = 0;
  while (pos < s.size()) {
    size_t start = pos;
    char32_t cp = next_code_point(s, pos);
    switch (cp) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (cp < 0x20 || (ensure_ascii && cp >= 0x7F)) {
      if (cp >= 0x10000) {
        char32_t v = cp - 0x10000;
        append_hex(out, "\\u", 0xD800 + (v >> 10), 4);
        append_hex(out, "\\u", 0xDC00 + (v & 0x3FF), 4);
      } else {
        append_hex(out, "\\u", cp, 4);
      }
    } else {
      out.append(s, start, pos - start);
    }
  }
  out += '"';
}

void append_json_float(std::string& out, double x) {
  if (std::isnan(x)) {
    out += "NaN";
  } else if (std::isinf(x)) {
    out += x > 0 ? "Infinity" : "-Infinity";
  } else {
    out += py_float_repr(x);
  }
}

// A dict key as json.dumps converts it: str as is, numbers, bools and None spelled out.
std::string json_key(const Value& key) {
  switch (key.kind()) {
    case Kind::kString:
      return key.str();
    case Kind::kBool:
      return key.as_bool() ? "true" : "false";
    case Kind::kInt:
      return std::to_string(key.as_int());
    case Kind::kNone:
      return "null";
    case Kind::kFloat: {
      std::string s;
      append_json_float(s, key.as_double());
      return s;
    }
    default:
      throw tern::error("chat template: tojson: keys must be str, int, float, bool or None, not ", type_name(key));
  }
}

void append_newline_indent(std::string& out, const JsonOptions& options, int level) {
  out += '\n';
  for (int i = 0; i < level; ++i) out += options.indent;
}

void append_json_at(std::string& out, const Value& v, const JsonOptions& options, size_t max_bytes, int depth) {
  check(out, max_bytes, depth);
  switch (v.kind()) {
    case Kind::kNone:
      out += "null";
      break;
    case Kind::kBool:
      out += v.as_bool() ? "true" : "false";
      break;
    case Kind::kInt:
      out += std::to_string(v.as_int());
      break;
    case Kind::kFloat:
      append_json_float(out, v.as_double());
      break;
    case Kind::kString:
      append_json_string(out, v.str(), options.ensure_ascii);
      break;
    case Kind::kList: {
      const auto& items = v.list().items;
      if (items.empty()) {
        out += "[]";
        break;
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += options.item_separator;
        if (options.indent_set) append_newline_indent(out, options, depth + 1);
        append_json_at(out, items[i], options, max_bytes, depth + 1);
      }
      if (options.indent_set) append_newline_indent(out, options, depth);
      out += ']';
      break;
    }
    case Kind::kDict: {
      const auto& entries = v.dict().entries;
      if (entries.empty()) {
        out += "{}";
        break;
      }
      std::vector<std::pair<std::string, const Value*>> items;
      items.reserve(entries.size());
      for (const auto& [key, value] : entries) items.emplace_back(json_key(key), &value);
      if (options.sort_keys) {
        for (const auto& [key, value] : entries)
          if (!key.is_string()) throw tern::error("chat template: tojson: sort_keys needs string keys");
        std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      }
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += options.item_separator;
        if (options.indent_set) append_newline_indent(out, options, depth + 1);
        append_json_string(out, items[i].first, options.ensure_ascii);
        out += options.key_separator;
        append_json_at(out, *items[i].second, options, max_bytes, depth + 1);
      }
      if (options.indent_set) append_newline_indent(out, options, depth);
      out += '}';
      break;
    }
    default:
      throw tern::error("chat template: tojson: Object of type ", type_name(v), " is not JSON serializable");
  }
  check(out, max_bytes, depth);
}

}  // namespace

std::string py_float_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  if (x == 0) return std::signbit(x) ? "-0.0" : "0.0";
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific);
  std::string sci(buf, result.ptr);
  // sci looks like "-d.ddde+XX": split into sign, digits and the decimal exponent.
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  int exponent = std::stoi(sci.substr(e + 1));
  int decpt = exponent + 1;  // value = 0.DIGITS * 10^decpt
  int ndigits = static_cast<int>(digits.size());
  std::string out = sign;
  if (decpt <= -4 || decpt > 16) {
    out += digits[0];
    if (ndigits > 1) out += "." + digits.substr(1);
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp_buf;
  } else if (decpt <= 0) {
    out += "0." + std::string(-decpt, '0') + digits;
  } else if (decpt >= ndigits) {
    out += digits + std::string(decpt - ndigits, '0') + ".0";
  } else {
    out += digits.substr(0, decpt) + "." + digits.substr(decpt);
  }
  return out;
}

void append_py_str(std::string& out, const Value& v, size_t max_bytes) { append_str_at(out, v, max_bytes, 0); }

void append_py_repr(std::string& out, const Value& v, size_t max_bytes) { append_repr_at(out, v, max_bytes, 0); }

void append_json(std::string& out, const Value& v, const JsonOptions& options, size_t max_bytes) {
  append_json_at(out, v, options, max_bytes, 0);
}

}  // namespace tern::jinja
