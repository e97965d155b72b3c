#include "grammar/json_primitives.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "base/error.h"
#include "base/utf8.h"
#include "grammar/regex.h"

namespace tern::grammar {
namespace {

// Code points a string's content may hold as they are (the rest need an escape).
const std::vector<CodepointRange> kEscaped = {{0, 0x1F}, {'"', '"'}, {'\\', '\\'}};

ExprId hex_digit(Grammar& g) { return g.char_class({{'0', '9'}, {'a', 'f'}, {'A', 'F'}}); }

ExprId digits(Grammar& g, int32_t min, int32_t max) { return g.repeat(g.char_class({{'0', '9'}}), min, max); }

void append_escaped(char32_t cp, std::string& out) {
  switch (cp) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    default:
      break;
  }
  if (cp < 0x20) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(cp));
    out += buf;
  } else {
    utf8::append(cp, out);
  }
}

bool needs_escape(char32_t cp) { return cp < 0x20 || cp == '"' || cp == '\\'; }

// The expression `id` of unescaped text rewritten to match its JSON-escaped form.
ExprId escape_expr(Grammar& g, ExprId id) {
  const Expr e = g.expr(id);  // a copy: adding expressions moves the storage
  switch (e.kind) {
    case ExprKind::kEmpty:
    case ExprKind::kRuleRef:
      return id;
    case ExprKind::kBytes: {
      std::string out;
      TERN_CHECK(utf8::is_valid(e.bytes), "a regex literal is not UTF-8");
      for (size_t pos = 0; pos < e.bytes.size();) append_escaped(utf8::decode_at(e.bytes, pos), out);
      return g.bytes(out);
    }
    case ExprKind::kCharClass: {
      std::vector<ExprId> alts;
      // The class's code points that need no escape: its ranges minus the escaped ones.
      std::vector<CodepointRange> keep;
      for (CodepointRange r : e.ranges) {
        for (CodepointRange p : normalize_ranges(kEscaped, /*negated=*/true)) {
          const char32_t lo = std::max(r.lo, p.lo), hi = std::min(r.hi, p.hi);
          if (lo <= hi) keep.push_back({lo, hi});
        }
      }
      if (!keep.empty()) alts.push_back(g.char_class(std::move(keep)));
      for (CodepointRange r : e.ranges) {
        for (char32_t cp = r.lo; cp <= std::min<char32_t>(r.hi, 0x7F); ++cp) {
          if (!needs_escape(cp)) continue;
          std::string esc;
          append_escaped(cp, esc);
          alts.push_back(g.bytes(esc));
        }
      }
      if (alts.empty()) return g.char_class({});
      return g.alt(std::move(alts));
    }
    case ExprKind::kSeq:
    case ExprKind::kAlt: {
      std::vector<ExprId> children;
      for (ExprId c : e.children) children.push_back(escape_expr(g, c));
      return e.kind == ExprKind::kSeq ? g.seq(std::move(children)) : g.alt(std::move(children));
    }
    case ExprKind::kRepeat:
      return g.repeat(escape_expr(g, e.children[0]), e.min, e.max);
  }
  return id;
}

bool all_of(std::string_view s, char c) { return s.find_first_not_of(c) == std::string_view::npos; }

// Equal-length digit strings lo..hi (lo <= hi), leading zeros allowed.
ExprId digits_between(Grammar& g, std::string_view lo, std::string_view hi) {
  const size_t n = lo.size();
  if (n == 0) return g.empty();
  if (lo[0] == hi[0]) return g.seq({g.bytes(lo.substr(0, 1)), digits_between(g, lo.substr(1), hi.substr(1))});
  const std::string nines(n - 1, '9'), zeros(n - 1, '0');
  std::vector<ExprId> alts;
  char mid_lo = char(lo[0] + 1), mid_hi = char(hi[0] - 1);
  if (all_of(lo.substr(1), '0'))
    mid_lo = lo[0];
  else
    alts.push_back(g.seq({g.bytes(lo.substr(0, 1)), digits_between(g, lo.substr(1), nines)}));
  const bool hi_full = all_of(hi.substr(1), '9');
  if (hi_full) mid_hi = hi[0];
  if (mid_lo <= mid_hi)
    alts.push_back(
        g.seq({g.char_class({{char32_t(mid_lo), char32_t(mid_hi)}}), digits(g, int32_t(n - 1), int32_t(n - 1))}));
  if (!hi_full) alts.push_back(g.seq({g.bytes(hi.substr(0, 1)), digits_between(g, zeros, hi.substr(1))}));
  return g.alt(std::move(alts));
}

// Non-negative integers lo..hi (hi unbounded when nullopt), without leading zeros.
ExprId nonnegative_range(Grammar& g, int64_t lo, std::optional<int64_t> hi) {
  const std::string a = std::to_string(lo);
  std::vector<ExprId> alts;
  const size_t last_len = hi ? std::to_string(*hi).size() : a.size();
  for (size_t len = a.size(); len <= last_len; ++len) {
    const std::string from = len == a.size() ? a : "1" + std::string(len - 1, '0');
    const std::string to = hi && len == last_len ? std::to_string(*hi) : std::string(len, '9');
    alts.push_back(digits_between(g, from, to));
  }
  if (!hi) alts.push_back(g.seq({g.char_class({{'1', '9'}}), digits(g, int32_t(a.size()), kUnbounded)}));
  return g.alt(std::move(alts));
}

std::optional<int64_t> negated(std::optional<int64_t> v) {
  std::optional<int64_t> out;
  if (v) out = -*v;
  return out;
}

ExprId fraction(Grammar& g) { return g.seq({g.bytes("."), digits(g, 1, kUnbounded)}); }

// Numbers x >= 0 with lo <= x <= hi (integer bounds; hi unbounded when nullopt), no sign.
ExprId magnitude_range(Grammar& g, int64_t lo, std::optional<int64_t> hi) {
  if (!hi) return g.seq({nonnegative_range(g, lo, std::nullopt), g.optional(fraction(g))});
  std::vector<ExprId> alts;
  if (*hi > lo) alts.push_back(g.seq({nonnegative_range(g, lo, *hi - 1), g.optional(fraction(g))}));
  alts.push_back(g.seq({g.bytes(std::to_string(*hi)), g.optional(g.seq({g.bytes("."), g.plus(g.bytes("0"))}))}));
  return g.alt(std::move(alts));
}

// A small trie of code points for json_string_except.
struct NameTrie {
  std::map<char32_t, NameTrie> children;
  bool terminal = false;
};

ExprId string_except(Grammar& g, const NameTrie& node, ExprId any_char) {
  std::vector<ExprId> alts;
  if (!node.terminal) alts.push_back(g.empty());
  std::vector<CodepointRange> taken = kEscaped;
  for (const auto& [cp, child] : node.children) {
    if (needs_escape(cp)) continue;
    taken.push_back({cp, cp});
    std::string bytes;
    utf8::append(cp, bytes);
    alts.push_back(g.seq({g.bytes(bytes), string_except(g, child, any_char)}));
  }
  alts.push_back(g.seq({g.char_class(std::move(taken), true), g.star(any_char)}));
  return g.alt(std::move(alts));
}

}  // namespace

std::string write_json(const nlohmann::ordered_json& value) {
  if (value.is_object()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [key, item] : value.items()) {
      if (!first) out += kItemSeparator;
      first = false;
      out += nlohmann::ordered_json(key).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::strict);
      out += kKeySeparator;
      out += write_json(item);
    }
    return out + "}";
  }
  if (value.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < value.size(); ++i) {
      if (i) out += kItemSeparator;
      out += write_json(value[i]);
    }
    return out + "]";
  }
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::strict);
}

ExprId json_string_char(Grammar& g) {
  const ExprId plain = g.char_class(kEscaped, true);
  const ExprId hex4 = g.alt(
      {g.seq(
           {g.char_class({{'0', '9'}, {'a', 'c'}, {'A', 'C'}, {'e', 'f'}, {'E', 'F'}}), g.repeat(hex_digit(g), 3, 3)}),
       g.seq({g.char_class({{'d', 'd'}, {'D', 'D'}}), g.char_class({{'0', '7'}}), g.repeat(hex_digit(g), 2, 2)})});
  const ExprId escape = g.seq(
      {g.bytes("\\"),
       g.alt({g.char_class(
                  {{'"', '"'}, {'\\', '\\'}, {'/', '/'}, {'b', 'b'}, {'f', 'f'}, {'n', 'n'}, {'r', 'r'}, {'t', 't'}}),
              g.seq({g.bytes("u"), hex4})})});
  return g.alt({plain, escape});
}

RuleId json_string_rule(Grammar& g) {
  RuleId rule = g.find_rule("string");
  if (rule >= 0) return rule;
  rule = g.add_rule("string", /*inline_ok=*/false);
  g.set_body(rule, json_string_of_length(g, 0, kUnbounded));
  return rule;
}

ExprId json_any_object(Grammar& g) {
  const RuleId value = json_value_rule(g);
  const auto member = [&] { return g.seq({g.ref(json_string_rule(g)), g.bytes(kKeySeparator), g.ref(value)}); };
  return g.seq(
      {g.bytes("{"), g.optional(g.seq({member(), g.star(g.seq({g.bytes(kItemSeparator), member()}))})), g.bytes("}")});
}

RuleId json_value_rule(Grammar& g) {
  RuleId rule = g.find_rule("value");
  if (rule >= 0) return rule;
  rule = g.add_rule("value", /*inline_ok=*/false);
  const ExprId array =
      g.seq({g.bytes("["), g.optional(g.seq({g.ref(rule), g.star(g.seq({g.bytes(kItemSeparator), g.ref(rule)}))})),
             g.bytes("]")});
  g.set_body(rule, g.alt({json_any_object(g), array, g.ref(json_string_rule(g)),
                          json_number_range(g, std::nullopt, std::nullopt), g.bytes("true"), g.bytes("false"),
                          g.bytes("null")}));
  return rule;
}

ExprId json_string_of_length(Grammar& g, int32_t min, int32_t max) {
  return g.seq({g.bytes("\""), g.repeat(json_string_char(g), min, max), g.bytes("\"")});
}

ExprId json_string_matching(Grammar& g, std::string_view pattern) {
  return g.seq({g.bytes("\""), escape_expr(g, add_regex(g, pattern)), g.bytes("\"")});
}

std::optional<ExprId> json_string_format(Grammar& g, std::string_view format) {
  static const std::string kYear = "[0-9]{4}";
  static const std::string kLeapYear = "([0-9]{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26]|00)00)";
  static const std::string kDate = "(" + kYear + "-(0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|" + kYear +
                                   "-(0[469]|11)-(0[1-9]|[12][0-9]|30)|" + kYear + "-02-(0[1-9]|1[0-9]|2[0-8])|" +
                                   kLeapYear + "-02-29)";
  // Fractions of a second to the nanosecond, so that a time always ends.
  static const std::string kTime =
      "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";
  static const std::string kOctet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
  // RFC 5321 bounds (a local part of at most 64 characters, labels of at most 63) in a
  // shape that always ends: 1 to 4 dot-separated atoms of up to 16 characters, 2 to 4
  // domain labels.
  static const std::string kEmailAtom = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,16}";
  static const std::string kLabel = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?";
  std::string regex;
  if (format == "date")
    regex = kDate;
  else if (format == "time")
    regex = kTime;
  else if (format == "date-time")
    regex = kDate + "T" + kTime;
  else if (format == "uuid")
    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
  else if (format == "email")
    regex = kEmailAtom + "(\\." + kEmailAtom + "){0,3}@(" + kLabel + "\\.){1,3}" + kLabel;
  else if (format == "ipv4")
    regex = kOctet + "(\\." + kOctet + "){3}";
  else
    return std::nullopt;
  return json_string_matching(g, regex);
}

ExprId json_string_except(Grammar& g, const std::vector<std::string>& names) {
  NameTrie root;
  for (const std::string& name : names) {
    NameTrie* node = &root;
    if (!utf8::is_valid(name)) continue;  // JSON text is UTF-8; kept for safety
    for (size_t pos = 0; pos < name.size();) node = &node->children[utf8::decode_at(name, pos)];
    node->terminal = true;
  }
  const ExprId any_char = g.char_class(kEscaped, true);
  return g.seq({g.bytes("\""), string_except(g, root, any_char), g.bytes("\"")});
}

ExprId json_integer_range(Grammar& g, std::optional<int64_t> lo, std::optional<int64_t> hi) {
  TERN_CHECK(!lo || !hi || *lo <= *hi, "empty integer range ", *lo, " .. ", *hi);
  std::vector<ExprId> alts;
  if (!lo || *lo < 0) {  // negative values: magnitudes max(1, -hi) .. -lo
    const int64_t mag_lo = hi && *hi < 0 ? -*hi : 1;
    alts.push_back(g.seq({g.bytes("-"), nonnegative_range(g, mag_lo, negated(lo))}));
  }
  if (!hi || *hi >= 0) alts.push_back(nonnegative_range(g, lo ? std::max<int64_t>(*lo, 0) : 0, hi));
  return g.alt(std::move(alts));
}

ExprId json_number_range(Grammar& g, std::optional<int64_t> lo, std::optional<int64_t> hi) {
  if (!lo && !hi) {
    const ExprId integer = g.alt({g.bytes("0"), g.seq({g.char_class({{'1', '9'}}), digits(g, 0, kUnbounded)})});
    const ExprId exponent = g.seq({g.char_class({{'e', 'e'}, {'E', 'E'}}),
                                   g.optional(g.char_class({{'+', '+'}, {'-', '-'}})), digits(g, 1, kUnbounded)});
    return g.seq({g.optional(g.bytes("-")), integer, g.optional(fraction(g)), g.optional(exponent)});
  }
  TERN_CHECK(!lo || !hi || *lo <= *hi, "empty number range ", *lo, " .. ", *hi);
  std::vector<ExprId> alts;
  if (!lo || *lo < 0) {  // x < 0 (and "-0"): magnitudes (hi < 0 ? -hi : 0) .. -lo
    const int64_t mag_lo = hi && *hi < 0 ? -*hi : 0;
    alts.push_back(g.seq({g.bytes("-"), magnitude_range(g, mag_lo, negated(lo))}));
  }
  if (!hi || *hi >= 0) alts.push_back(magnitude_range(g, lo ? std::max<int64_t>(*lo, 0) : 0, hi));
  return g.alt(std::move(alts));
}

}  // namespace tern::grammar
