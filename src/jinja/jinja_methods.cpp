#include "jinja/jinja_methods.h"

#include <utf8proc.h>

#include <algorithm>

#include "base/error.h"
#include "jinja/jinja_format.h"
#include "jinja/jinja_interpreter.h"
#include "jinja/jinja_text.h"

namespace tern::jinja {
namespace {

struct MethodName {
  std::string_view name;
  Method method;
};

constexpr MethodName kStringMethods[] = {
    {"startswith", Method::kStartswith},
    {"endswith", Method::kEndswith},
    {"split", Method::kSplit},
    {"rsplit", Method::kRsplit},
    {"strip", Method::kStrip},
    {"lstrip", Method::kLstrip},
    {"rstrip", Method::kRstrip},
    {"upper", Method::kUpper},
    {"lower", Method::kLower},
    {"title", Method::kTitle},
    {"capitalize", Method::kCapitalize},
    {"replace", Method::kReplace},
    {"count", Method::kCount},
    {"find", Method::kFind},
    {"join", Method::kJoin},
    {"splitlines", Method::kSplitlines},
    {"format", Method::kFormat},
    {"isdigit", Method::kIsdigit},
    {"isalpha", Method::kIsalpha},
    {"isspace", Method::kIsspace},
};

constexpr MethodName kDictMethods[] = {
    {"items", Method::kItems},
    {"keys", Method::kKeys},
    {"values", Method::kValues},
    {"get", Method::kGet},
};

const std::string& string_arg(const Value& v, const char* method) {
  if (!v.is_string()) throw tern::error("chat template: str.", method, "() expects a string, got ", type_name(v));
  return v.str();
}

int64_t int_arg(const Value& v, const char* method) {
  if (!v.is_integral()) throw tern::error("chat template: str.", method, "() expects an integer, got ", type_name(v));
  return v.as_int();
}

Value list_value(Interpreter& in, std::vector<Value> items, bool is_tuple = false) {
  in.heap().charge(items.size() * sizeof(Value));
  ListObj* list = in.heap().make_list(is_tuple);
  list->items = std::move(items);
  return Value::list(list);
}

Value strings_value(Interpreter& in, const std::vector<std::string>& parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (const std::string& p : parts) items.push_back(in.make_string(p));
  return list_value(in, std::move(items));
}

// startswith/endswith: a string or a tuple of strings.
bool affix_match(const std::string& s, const Value& affix, bool prefix, const char* method) {
  auto one = [&](const std::string& a) {
    return a.size() <= s.size() &&
           (prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0);
  };
  if (affix.is(Kind::kList) && affix.list().is_tuple) {
    for (const Value& a : affix.list().items)
      if (one(string_arg(a, method))) return true;
    return false;
  }
  return one(string_arg(affix, method));
}

std::vector<std::string> rsplit(const std::string& s, const Value& sep, int64_t max_split) {
  if (max_split < 0) {
    return sep.is_none() ? py_split_whitespace(s, -1) : py_split(s, sep.str(), -1);
  }
  // Split from the right by reversing the search.
  std::vector<std::string> parts;
  if (sep.is_none()) {
    std::vector<size_t> offsets = code_point_offsets(s);
    auto space_at = [&](size_t k) {
      size_t pos = offsets[k];
      return is_py_space(next_code_point(s, pos));
    };
    size_t end = offsets.size() - 1;  // in code points
    while (true) {
      while (end > 0 && space_at(end - 1)) --end;
      if (end == 0) break;
      size_t start = end;
      while (start > 0 && !space_at(start - 1)) --start;
      if (start == 0 || static_cast<int64_t>(parts.size()) == max_split) {
        parts.insert(parts.begin(), s.substr(0, offsets[end]));
        break;
      }
      parts.insert(parts.begin(), s.substr(offsets[start], offsets[end] - offsets[start]));
      end = start;
    }
    return parts;
  }
  const std::string& d = sep.str();
  std::string rest = s;
  while (static_cast<int64_t>(parts.size()) < max_split) {
    size_t hit = rest.rfind(d);
    if (hit == std::string::npos) break;
    parts.insert(parts.begin(), rest.substr(hit + d.size()));
    rest.resize(hit);
  }
  parts.insert(parts.begin(), rest);
  return parts;
}

// str.format with {} / {0} / {name} fields and {{ }} escapes; no format specs.
std::string format(Interpreter& in, const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t next_auto = 0;
  int numbering = 0;  // 1: automatic "{}", 2: manual "{0}"; Python refuses to mix them
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}')
        ++i;
      else
        throw tern::error("chat template: str.format(): single '}' encountered");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t close = fmt.find('}', i);
    if (close == std::string::npos) throw tern::error("chat template: str.format(): single '{' encountered");
    std::string field = fmt.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos)
      throw tern::error("chat template: str.format(): format specs and conversions are not supported");
    const Value* value = nullptr;
    if (field.empty() || std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      if (field.size() > 9) throw tern::error("chat template: str.format(): replacement index too large");
      bool automatic = field.empty();
      if (numbering != 0 && numbering != (automatic ? 1 : 2))
        throw tern::error("chat template: str.format(): cannot switch between automatic and manual field numbering");
      numbering = automatic ? 1 : 2;
      size_t index = automatic ? next_auto++ : std::stoul(field);
      if (index >= args.positional.size())
        throw tern::error("chat template: str.format(): replacement index ", index, " out of range");
      value = &args.positional[index];
    } else {
      for (const auto& [key, v] : args.keyword)
        if (key == field) value = &v;
      if (value == nullptr) throw tern::error("chat template: str.format(): missing argument '", field, "'");
    }
    append_py_str(out, *value, in.limits().max_output_bytes);
    i = close;
  }
  return out;
}

template <typename Pred>
bool all_code_points(const std::string& s, Pred pred) {
  if (s.empty()) return false;
  size_t pos = 0;
  while (pos < s.size())
    if (!pred(next_code_point(s, pos))) return false;
  return true;
}

utf8proc_category_t category(char32_t cp) { return utf8proc_category(static_cast<utf8proc_int32_t>(cp)); }

Value call_string_method(Interpreter& in, Method method, const std::string& s, const CallArgs& args) {
  switch (method) {
    case Method::kStartswith:
    case Method::kEndswith: {
      const char* name = method == Method::kStartswith ? "startswith" : "endswith";
      ArgReader a(name, args, {"affix"});
      return Value::boolean(affix_match(s, a.required(0), method == Method::kStartswith, name));
    }
    case Method::kSplit:
    case Method::kRsplit: {
      ArgReader a("split", args, {"sep", "maxsplit"});
      Value sep = a.get_or(0, Value::none());
      int64_t max_split = int_arg(a.get_or(1, Value::integer(-1)), "split");
      if (!sep.is_none() && string_arg(sep, "split").empty()) throw tern::error("chat template: empty separator");
      if (method == Method::kRsplit) return strings_value(in, rsplit(s, sep, max_split));
      return strings_value(in, sep.is_none() ? py_split_whitespace(s, max_split) : py_split(s, sep.str(), max_split));
    }
    case Method::kStrip:
    case Method::kLstrip:
    case Method::kRstrip: {
      ArgReader a("strip", args, {"chars"});
      bool left = method != Method::kRstrip;
      bool right = method != Method::kLstrip;
      Value chars = a.get_or(0, Value::none());
      if (chars.is_none()) return in.make_string(py_strip(s, left, right));
      return in.make_string(py_strip_chars(s, string_arg(chars, "strip"), left, right));
    }
    case Method::kUpper:
      ArgReader("upper", args, {});
      return in.make_string(py_upper(s));
    case Method::kLower:
      ArgReader("lower", args, {});
      return in.make_string(py_lower(s));
    case Method::kTitle:
      ArgReader("title", args, {});
      return in.make_string(py_title(s));
    case Method::kCapitalize:
      ArgReader("capitalize", args, {});
      return in.make_string(py_capitalize(s));
    case Method::kReplace: {
      ArgReader a("replace", args, {"old", "new", "count"});
      int64_t count = int_arg(a.get_or(2, Value::integer(-1)), "replace");
      const std::string& old = string_arg(a.required(0), "replace");
      const std::string& replacement = string_arg(a.required(1), "replace");
      if (!old.empty() && !replacement.empty() && replacement.size() > old.size()) {
        size_t growth = (replacement.size() - old.size()) * static_cast<size_t>(py_count(s, old));
        if (s.size() + growth > in.limits().max_output_bytes)
          throw tern::error("chat template: str.replace() result exceeds the output budget");
      }
      return in.make_string(py_replace(s, old, replacement, count));
    }
    case Method::kCount: {
      ArgReader a("count", args, {"sub"});
      return Value::integer(py_count(s, string_arg(a.required(0), "count")));
    }
    case Method::kFind: {
      ArgReader a("find", args, {"sub"});
      return Value::integer(py_find(s, string_arg(a.required(0), "find")));
    }
    case Method::kJoin: {
      ArgReader a("join", args, {"iterable"});
      std::string out;
      bool first = true;
      size_t index = 0;
      for (const Value& item : in.iterate(a.required(0))) {
        if (!item.is_string())
          throw tern::error("chat template: str.join(): sequence item ", index, ": expected str instance, ",
                            type_name(item), " found");
        if (!first) out += s;
        first = false;
        out += item.str();
        ++index;
        if (out.size() > in.limits().max_output_bytes)
          throw tern::error("chat template: str.join() result exceeds the output budget");
      }
      return in.make_string(std::move(out));
    }
    case Method::kSplitlines:
      ArgReader("splitlines", args, {});
      return strings_value(in, py_splitlines(s));
    case Method::kFormat:
      return in.make_string(format(in, s, args));
    case Method::kIsdigit:
      ArgReader("isdigit", args, {});
      return Value::boolean(all_code_points(s, [](char32_t cp) { return category(cp) == UTF8PROC_CATEGORY_ND; }));
    case Method::kIsalpha:
      ArgReader("isalpha", args, {});
      return Value::boolean(all_code_points(s, [](char32_t cp) {
        auto c = category(cp);
        return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
      }));
    case Method::kIsspace:
      ArgReader("isspace", args, {});
      return Value::boolean(all_code_points(s, is_py_space));
    default:
      break;
  }
  throw tern::error("chat template: not a str method");
}

Value call_dict_method(Interpreter& in, Method method, const DictObj& dict, const CallArgs& args) {
  std::vector<Value> out;
  switch (method) {
    case Method::kItems:
      ArgReader("items", args, {});
      for (const auto& [key, value] : dict.entries) out.push_back(list_value(in, {key, value}, true));
      return list_value(in, std::move(out));
    case Method::kKeys:
      ArgReader("keys", args, {});
      for (const auto& entry : dict.entries) out.push_back(entry.first);
      return list_value(in, std::move(out));
    case Method::kValues:
      ArgReader("values", args, {});
      for (const auto& entry : dict.entries) out.push_back(entry.second);
      return list_value(in, std::move(out));
    case Method::kGet: {
      ArgReader a("get", args, {"key", "default"});
      Value key = a.required(0);
      if (!is_hashable(key)) throw tern::error("chat template: unhashable type: '", type_name(key), "'");
      const Value* found = dict.find(key);
      return found ? *found : a.get_or(1, Value::none());
    }
    default:
      break;
  }
  throw tern::error("chat template: not a dict method");
}

}  // namespace

std::optional<Method> find_method(const Value& self, std::string_view name) {
  if (self.is_string()) {
    for (const MethodName& m : kStringMethods)
      if (m.name == name) return m.method;
  } else if (self.is(Kind::kDict)) {
    for (const MethodName& m : kDictMethods)
      if (m.name == name) return m.method;
  } else if (self.is(Kind::kList) && !self.list().is_tuple && name == "append") {
    return Method::kAppend;
  }
  return std::nullopt;
}

Value call_method(Interpreter& in, Method method, const Value& self, const CallArgs& args) {
  if (self.is_string()) return call_string_method(in, method, self.str(), args);
  if (self.is(Kind::kDict)) return call_dict_method(in, method, self.dict(), args);
  ArgReader a("append", args, {"object"});
  in.heap().append(self.list(), a.required(0));
  return Value::none();
}

}  // namespace tern::jinja
