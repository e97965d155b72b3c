#include "grammar/json_schema.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "base/error.h"
#include "grammar/json_primitives.h"

namespace tern::grammar {
namespace {

using Json = nlohmann::ordered_json;

const std::set<std::string, std::less<>> kAnnotations = {"title", "description", "default",    "examples", "$schema",
                                                         "$id",   "$comment",    "deprecated", "readOnly", "writeOnly"};
const std::set<std::string, std::less<>> kObjectKeywords = {"properties", "required", "additionalProperties"};
const std::set<std::string, std::less<>> kArrayKeywords = {"items", "minItems", "maxItems", "uniqueItems"};
const std::set<std::string, std::less<>> kStringKeywords = {"minLength", "maxLength", "pattern", "format"};
const std::set<std::string, std::less<>> kNumberKeywords = {"minimum", "maximum", "exclusiveMinimum",
                                                            "exclusiveMaximum"};
const std::set<std::string, std::less<>> kOtherKeywords = {"type",  "enum", "const", "anyOf",      "oneOf",
                                                           "allOf", "$ref", "$defs", "definitions"};
// Bounds beyond this cannot be negated or written as integers safely.
constexpr double kMaxBound = 1e15;

// "#/properties/a~1b" for the path segments.
std::string pointer_segment(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

std::string rule_stem(std::string_view text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "s" + out;
  return out;
}

class Converter {
 public:
  Converter(Grammar& g, const Json& root, std::string name) : g_(g), root_(root), name_(std::move(name)) {}

  ExprId convert() { return schema(root_, "#", 0); }

 private:
  [[noreturn]] void fail(const std::string& path, const std::string& message) const {
    throw error("JSON schema ", path, ": ", message);
  }

  ExprId schema(const Json& s, const std::string& path, int depth) {
    if (depth > kMaxSchemaDepth)
      fail(path, "schemas are nested more than " + std::to_string(kMaxSchemaDepth) + " deep");
    if (s.is_boolean()) {
      if (!s.get<bool>()) fail(path, "the schema false matches nothing");
      return g_.ref(json_value_rule(g_));
    }
    if (!s.is_object()) fail(path, "a schema must be an object or a boolean");
    for (const auto& [key, value] : s.items()) {
      if (!kAnnotations.contains(key) && !kObjectKeywords.contains(key) && !kArrayKeywords.contains(key) &&
          !kStringKeywords.contains(key) && !kNumberKeywords.contains(key) && !kOtherKeywords.contains(key)) {
        fail(path, "unsupported keyword '" + key + "'");
      }
    }
    if (const auto it = s.find("$ref"); it != s.end()) {
      only_with(s, path, "$ref", {});
      return reference(*it, path + "/$ref");
    }
    if (const auto it = s.find("allOf"); it != s.end()) {
      only_with(s, path, "allOf", {});
      if (!it->is_array() || it->size() != 1) fail(path + "/allOf", "allOf is supported with exactly one schema");
      return schema((*it)[0], path + "/allOf/0", depth + 1);
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      const auto it = s.find(key);
      if (it == s.end()) continue;
      only_with(s, path, key, {});
      if (!it->is_array() || it->empty()) fail(path + "/" + key, "expected a non-empty array of schemas");
      std::vector<ExprId> alts;
      for (size_t i = 0; i < it->size(); ++i)
        alts.push_back(schema((*it)[i], path + "/" + key + "/" + std::to_string(i), depth + 1));
      return g_.alt(std::move(alts));
    }
    if (const auto it = s.find("const"); it != s.end()) {
      only_with(s, path, "const", {"type"});
      return g_.bytes(write_json(*it));
    }
    if (const auto it = s.find("enum"); it != s.end()) {
      only_with(s, path, "enum", {"type"});
      if (!it->is_array() || it->empty()) fail(path + "/enum", "expected a non-empty array");
      std::vector<ExprId> alts;
      for (const Json& value : *it) alts.push_back(g_.bytes(write_json(value)));
      return g_.alt(std::move(alts));
    }
    std::vector<ExprId> alts;
    for (const std::string& type : types(s, path)) alts.push_back(typed(s, type, path, depth));
    return g_.alt(std::move(alts));
  }

  // `keyword` may stand beside annotations, $defs and the keywords in `allowed` only.
  void only_with(const Json& s, const std::string& path, const char* keyword, std::set<std::string> allowed) const {
    allowed.insert({keyword, "$defs", "definitions"});
    for (const auto& [key, value] : s.items()) {
      if (!kAnnotations.contains(key) && !allowed.contains(key))
        fail(path, std::string("'") + key + "' beside '" + keyword + "' is not supported");
    }
  }

  std::vector<std::string> types(const Json& s, const std::string& path) const {
    static const std::set<std::string, std::less<>> kTypes = {"object", "array",   "string", "integer",
                                                              "number", "boolean", "null"};
    std::vector<std::string> out;
    if (const auto it = s.find("type"); it != s.end()) {
      const std::vector<Json> names = it->is_array() ? it->get<std::vector<Json>>() : std::vector<Json>{*it};
      for (const Json& name : names) {
        if (!name.is_string() || !kTypes.contains(name.get_ref<const std::string&>()))
          fail(path + "/type", "expected one of object, array, string, integer, number, boolean, null");
        out.push_back(name.get<std::string>());
      }
      if (out.empty()) fail(path + "/type", "expected at least one type");
      return out;
    }
    // No type: the types its keywords describe, or any value.
    const auto uses = [&](const auto& keywords) {
      return std::ranges::any_of(s.items(), [&](const auto& item) { return keywords.contains(item.key()); });
    };
    if (uses(kObjectKeywords)) out.push_back("object");
    if (uses(kArrayKeywords)) out.push_back("array");
    if (uses(kStringKeywords)) out.push_back("string");
    if (uses(kNumberKeywords)) out.push_back("number");
    if (out.empty()) out = {"object", "array", "string", "number", "boolean", "null"};
    return out;
  }

  ExprId typed(const Json& s, const std::string& type, const std::string& path, int depth) {
    if (type == "object") return object(s, path, depth);
    if (type == "array") return array(s, path, depth);
    if (type == "string") return string(s, path);
    if (type == "integer") return integer(s, path);
    if (type == "number") return number(s, path);
    if (type == "boolean") return g_.alt({g_.bytes("true"), g_.bytes("false")});
    return g_.bytes("null");
  }

  // A sub-schema as a rule of its own: the compiler copies it into its users when small,
  // and otherwise keeps one copy.
  ExprId sub_rule(const Json& s, const std::string& path, int depth, std::string_view stem) {
    const RuleId rule = g_.add_rule(g_.unique_name(rule_stem(name_) + "_" + rule_stem(stem)));
    g_.set_body(rule, schema(s, path, depth + 1));
    return g_.ref(rule);
  }

  ExprId object(const Json& s, const std::string& path, int depth) {
    std::vector<std::pair<std::string, ExprId>> props;  // (key literal with ": ", value)
    std::vector<std::string> names;
    const auto properties = s.find("properties");
    if (properties != s.end()) {
      if (!properties->is_object()) fail(path + "/properties", "expected an object");
      for (const auto& [key, value] : properties->items()) {
        names.push_back(key);
        props.emplace_back(write_json(Json(key)) + std::string(kKeySeparator),
                           sub_rule(value, path + "/properties/" + pointer_segment(key), depth, key));
      }
    }
    std::set<std::string> required;
    if (const auto it = s.find("required"); it != s.end()) {
      if (!it->is_array()) fail(path + "/required", "expected an array of property names");
      for (const Json& name : *it) {
        if (!name.is_string()) fail(path + "/required", "expected an array of property names");
        if (std::ranges::find(names, name.get_ref<const std::string&>()) == names.end())
          fail(path + "/required", "required property '" + name.get<std::string>() + "' is not in properties");
        required.insert(name.get<std::string>());
      }
    }
    // Members beyond the named properties, with keys that are none of them.
    std::optional<ExprId> extra;
    const auto additional = s.find("additionalProperties");
    const bool allow_extra =
        additional == s.end() ? properties == s.end() : !(additional->is_boolean() && !additional->get<bool>());
    if (allow_extra) {
      const ExprId value = additional == s.end()
                               ? g_.ref(json_value_rule(g_))
                               : sub_rule(*additional, path + "/additionalProperties", depth, "additional");
      extra = g_.seq({json_string_except(g_, names), g_.bytes(kKeySeparator), value});
    }
    // after[i]: members from property i on, when something was written already (each
    // needs ", " first); first[i]: the same when nothing was written yet.
    const size_t n = props.size();
    std::vector<ExprId> after(n + 1), first(n + 1);
    after[n] = extra ? g_.star(g_.seq({g_.bytes(kItemSeparator), *extra})) : g_.empty();
    first[n] = extra ? g_.optional(g_.seq({*extra, after[n]})) : g_.empty();
    for (size_t i = n; i-- > 0;) {
      const ExprId member = g_.seq({g_.bytes(props[i].first), props[i].second});
      const bool is_required = required.contains(names[i]);
      // Shared by both chains: a rule the compiler copies when small.
      const RuleId rest = g_.add_rule(g_.unique_name(rule_stem(name_) + "_rest"));
      g_.set_body(rest, after[i + 1]);
      const ExprId with_member = g_.seq({member, g_.ref(rest)});
      if (is_required) {
        after[i] = g_.seq({g_.bytes(kItemSeparator), with_member});
        first[i] = with_member;
      } else {
        after[i] = g_.seq({g_.optional(g_.seq({g_.bytes(kItemSeparator), member})), g_.ref(rest)});
        first[i] = g_.alt({with_member, first[i + 1]});
      }
    }
    return g_.seq({g_.bytes("{"), first[0], g_.bytes("}")});
  }

  std::optional<int64_t> count(const Json& s, const std::string& path, const char* key) const {
    const auto it = s.find(key);
    if (it == s.end()) return std::nullopt;
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 100000)
      fail(path + "/" + key, "expected an integer from 0 to 100000");
    return it->get<int64_t>();
  }

  ExprId array(const Json& s, const std::string& path, int depth) {
    if (const auto it = s.find("uniqueItems"); it != s.end() && !(it->is_boolean() && !it->get<bool>()))
      fail(path + "/uniqueItems", "uniqueItems true is not supported");
    const auto items = s.find("items");
    if (items != s.end() && items->is_array())
      fail(path + "/items", "items as an array (tuples) is not supported; give one schema");
    const int64_t min = count(s, path, "minItems").value_or(0);
    const std::optional<int64_t> max = count(s, path, "maxItems");
    if (max && *max < min) fail(path, "maxItems is below minItems");
    if (max && *max == 0) return g_.bytes("[]");
    const ExprId item =
        items == s.end() ? g_.ref(json_value_rule(g_)) : sub_rule(*items, path + "/items", depth, "item");
    const ExprId more = g_.repeat(g_.seq({g_.bytes(kItemSeparator), item}), int32_t(std::max<int64_t>(min - 1, 0)),
                                  max ? int32_t(*max - 1) : kUnbounded);
    const ExprId list = g_.seq({item, more});
    return g_.seq({g_.bytes("["), min == 0 ? g_.optional(list) : list, g_.bytes("]")});
  }

  ExprId string(const Json& s, const std::string& path) {
    const std::optional<int64_t> min = count(s, path, "minLength"), max = count(s, path, "maxLength");
    const auto pattern = s.find("pattern"), format = s.find("format");
    const bool lengths = min || max;
    if (format != s.end()) {
      if (pattern != s.end() || lengths)
        fail(path, "format together with pattern, minLength or maxLength is not supported");
      if (!format->is_string()) fail(path + "/format", "expected a string");
      const std::optional<ExprId> e = json_string_format(g_, format->get_ref<const std::string&>());
      if (!e)
        fail(path + "/format", "format '" + format->get<std::string>() +
                                   "' is not supported (supported: date, time, date-time, uuid, email, ipv4)");
      return *e;
    }
    if (pattern != s.end()) {
      if (lengths) fail(path, "pattern together with minLength or maxLength is not supported");
      if (!pattern->is_string()) fail(path + "/pattern", "expected a string");
      try {
        return json_string_matching(g_, pattern->get_ref<const std::string&>());
      } catch (const Error& e) {
        fail(path + "/pattern", e.what());
      }
    }
    if (lengths) {
      if (max && *max < min.value_or(0)) fail(path, "maxLength is below minLength");
      return json_string_of_length(g_, int32_t(min.value_or(0)), max ? int32_t(*max) : kUnbounded);
    }
    return g_.ref(json_string_rule(g_));
  }

  // A bound keyword's value; nullopt when absent. Draft 4's boolean exclusive keywords are
  // read by the caller.
  std::optional<double> bound(const Json& s, const std::string& path, const char* key) const {
    const auto it = s.find(key);
    if (it == s.end() || it->is_boolean()) return std::nullopt;
    if (!it->is_number()) fail(path + "/" + key, "expected a number");
    const double v = it->get<double>();
    if (!std::isfinite(v) || std::fabs(v) > kMaxBound)
      fail(path + "/" + key, "bounds beyond 1e15 in magnitude are not supported");
    return v;
  }
  bool draft4_exclusive(const Json& s, const char* key) const {
    const auto it = s.find(key);
    return it != s.end() && it->is_boolean() && it->get<bool>();
  }

  ExprId integer(const Json& s, const std::string& path) {
    std::optional<int64_t> lo, hi;
    const auto tighten_lo = [&](double v, bool exclusive) {
      const int64_t l = exclusive ? int64_t(std::floor(v)) + 1 : int64_t(std::ceil(v));
      lo = lo ? std::max(*lo, l) : l;
    };
    const auto tighten_hi = [&](double v, bool exclusive) {
      const int64_t h = exclusive ? int64_t(std::ceil(v)) - 1 : int64_t(std::floor(v));
      hi = hi ? std::min(*hi, h) : h;
    };
    if (const auto v = bound(s, path, "minimum")) tighten_lo(*v, draft4_exclusive(s, "exclusiveMinimum"));
    if (const auto v = bound(s, path, "maximum")) tighten_hi(*v, draft4_exclusive(s, "exclusiveMaximum"));
    if (const auto v = bound(s, path, "exclusiveMinimum")) tighten_lo(*v, true);
    if (const auto v = bound(s, path, "exclusiveMaximum")) tighten_hi(*v, true);
    if (lo && hi && *lo > *hi) fail(path, "no integer lies within minimum and maximum");
    return json_integer_range(g_, lo, hi);
  }

  ExprId number(const Json& s, const std::string& path) {
    for (const char* key : {"exclusiveMinimum", "exclusiveMaximum"})
      if (s.contains(key))
        fail(path + "/" + key, std::string(key) + " is not supported for numbers (only for integers)");
    std::optional<int64_t> lo, hi;
    for (const char* key : {"minimum", "maximum"}) {
      const std::optional<double> v = bound(s, path, key);
      if (!v) continue;
      if (*v != std::floor(*v))
        fail(path + "/" + key, std::string(key) + " of a number must be an integer value, got " + Json(*v).dump());
      (std::string_view(key) == "minimum" ? lo : hi) = int64_t(*v);
    }
    if (lo && hi && *lo > *hi) fail(path, "minimum is above maximum");
    return json_number_range(g_, lo, hi);
  }

  ExprId reference(const Json& ref, const std::string& path) {
    if (!ref.is_string()) fail(path, "expected a string");
    const std::string& target = ref.get_ref<const std::string&>();
    if (const auto it = refs_.find(target); it != refs_.end()) return g_.ref(it->second);
    if (target.empty() || target[0] != '#')
      fail(path, "only references inside the schema (\"#...\") are supported, got '" + target + "'");
    const Json* at = &root_;
    if (target.size() > 1) {
      if (target[1] != '/') fail(path, "expected a JSON pointer after '#', got '" + target + "'");
      try {
        at = &root_.at(Json::json_pointer(target.substr(1)));
      } catch (const std::exception&) {
        fail(path, "'" + target + "' points to nothing in the schema");
      }
    }
    const std::string stem = target.size() > 1 ? target.substr(target.rfind('/') + 1) : "root";
    const RuleId rule = g_.add_rule(g_.unique_name(rule_stem(name_) + "_" + rule_stem(stem)));
    refs_.emplace(target, rule);
    g_.set_body(rule, schema(*at, target, 0));
    return g_.ref(rule);
  }

  Grammar& g_;
  const Json& root_;
  std::string name_;
  std::map<std::string, RuleId> refs_;
};

}  // namespace

ExprId add_json_schema(Grammar& grammar, const nlohmann::ordered_json& schema, const std::string& name) {
  return Converter(grammar, schema, name).convert();
}

Grammar json_schema_grammar(const nlohmann::ordered_json& schema) {
  Grammar g;
  const RuleId root = g.add_rule("root");
  g.set_root(root);
  g.set_body(root, add_json_schema(g, schema, "schema"));
  return g;
}

Grammar json_object_grammar() {
  Grammar g;
  const RuleId root = g.add_rule("root");
  g.set_root(root);
  g.set_body(root, json_any_object(g));
  return g;
}

}  // namespace tern::grammar
