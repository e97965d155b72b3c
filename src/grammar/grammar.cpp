#include "grammar/grammar.h"

#include <algorithm>
#include <cstdio>

#include "base/error.h"

namespace tern::grammar {
namespace {

constexpr char32_t kSurrogateLo = 0xD800;
constexpr char32_t kSurrogateHi = 0xDFFF;

void append_escaped_char(char32_t cp, bool in_class, std::string& out) {
  char buf[16];
  switch (cp) {
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\\':
      out += "\\\\";
      return;
    default:
      break;
  }
  if ((!in_class && cp == '"') || (in_class && (cp == ']' || cp == '-' || cp == '^'))) {
    out += '\\';
    out += char(cp);
  } else if (cp < 0x20 || cp == 0x7F) {
    std::snprintf(buf, sizeof buf, "\\x%02X", unsigned(cp));
    out += buf;
  } else if (cp < 0x80) {
    out += char(cp);
  } else {
    std::snprintf(buf, sizeof buf, cp <= 0xFFFF ? "\\u%04X" : "\\U%08X", unsigned(cp));
    out += buf;
  }
}

}  // namespace

std::vector<CodepointRange> normalize_ranges(std::vector<CodepointRange> ranges, bool negated) {
  std::vector<CodepointRange> split;
  for (CodepointRange r : ranges) {
    r.hi = std::min(r.hi, kMaxCodepoint);
    if (r.lo > r.hi) continue;
    // Surrogates have no UTF-8 form.
    if (r.lo < kSurrogateLo && r.hi >= kSurrogateLo) split.push_back({r.lo, kSurrogateLo - 1});
    if (r.hi > kSurrogateHi && r.lo <= kSurrogateHi) split.push_back({kSurrogateHi + 1, r.hi});
    if (r.hi < kSurrogateLo || r.lo > kSurrogateHi) split.push_back(r);
  }
  std::sort(split.begin(), split.end(), [](CodepointRange a, CodepointRange b) { return a.lo < b.lo; });
  std::vector<CodepointRange> merged;
  for (CodepointRange r : split) {
    if (!merged.empty() && r.lo <= merged.back().hi + 1) {
      merged.back().hi = std::max(merged.back().hi, r.hi);
    } else {
      merged.push_back(r);
    }
  }
  if (!negated) return merged;
  std::vector<CodepointRange> complement;
  char32_t next = 0;
  for (CodepointRange r : merged) {
    if (r.lo > next) complement.push_back({next, r.lo - 1});
    next = r.hi + 1;
  }
  if (next <= kMaxCodepoint) complement.push_back({next, kMaxCodepoint});
  return normalize_ranges(std::move(complement), false);
}

ExprId Grammar::add(Expr e) {
  exprs_.push_back(std::move(e));
  return ExprId(exprs_.size() - 1);
}

ExprId Grammar::empty() { return add(Expr{.kind = ExprKind::kEmpty}); }

ExprId Grammar::bytes(std::string_view text) {
  if (text.empty()) return empty();
  return add(Expr{.kind = ExprKind::kBytes, .bytes = std::string(text)});
}

ExprId Grammar::char_class(std::vector<CodepointRange> ranges, bool negated) {
  return add(Expr{.kind = ExprKind::kCharClass, .ranges = normalize_ranges(std::move(ranges), negated)});
}

ExprId Grammar::seq(std::vector<ExprId> items) {
  if (items.empty()) return empty();
  if (items.size() == 1) return items[0];
  return add(Expr{.kind = ExprKind::kSeq, .children = std::move(items)});
}

ExprId Grammar::alt(std::vector<ExprId> items) {
  TERN_CHECK(!items.empty(), "an alternation needs at least one alternative");
  if (items.size() == 1) return items[0];
  return add(Expr{.kind = ExprKind::kAlt, .children = std::move(items)});
}

ExprId Grammar::repeat(ExprId child, int32_t min, int32_t max) {
  if (min < 0 || (max != kUnbounded && max < min)) {
    throw error("repetition {", min, ",", max == kUnbounded ? std::string() : std::to_string(max),
                "}: the bounds must satisfy 0 <= min <= max");
  }
  if (min == 1 && max == 1) return child;
  if (max == 0) return empty();
  return add(Expr{.kind = ExprKind::kRepeat, .children = {child}, .min = min, .max = max});
}

ExprId Grammar::ref(RuleId rule) {
  TERN_CHECK(rule >= 0 && rule < num_rules(), "rule ", rule, " does not exist");
  return add(Expr{.kind = ExprKind::kRuleRef, .rule = rule});
}

RuleId Grammar::add_rule(std::string name, bool inline_ok) {
  TERN_CHECK(find_rule(name) < 0, "rule ", name, " is defined twice");
  rules_.push_back(Rule{.name = std::move(name), .inline_ok = inline_ok});
  return RuleId(rules_.size() - 1);
}

void Grammar::set_body(RuleId rule, ExprId body) { rules_[size_t(rule)].body = body; }

RuleId Grammar::find_rule(std::string_view name) const {
  for (size_t i = 0; i < rules_.size(); ++i)
    if (rules_[i].name == name) return RuleId(i);
  return -1;
}

std::string Grammar::unique_name(std::string_view stem) const {
  std::string name(stem);
  for (int i = 2; find_rule(name) >= 0; ++i) name = std::string(stem) + "_" + std::to_string(i);
  return name;
}

std::string Grammar::to_gbnf() const {
  std::string out;
  // Precedence: 0 alternation, 1 sequence, 2 atom.
  auto print = [&](auto&& self, ExprId id, int context) -> void {
    const Expr& e = expr(id);
    const auto group = [&](int own, auto body) {
      if (own < context) out += "(";
      body();
      if (own < context) out += ")";
    };
    switch (e.kind) {
      case ExprKind::kEmpty:
        out += "\"\"";
        return;
      case ExprKind::kBytes:
        out += '"';
        for (unsigned char c : e.bytes) {
          if (c >= 0x80) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
          } else {
            append_escaped_char(c, false, out);
          }
        }
        out += '"';
        return;
      case ExprKind::kCharClass:
        out += '[';
        for (CodepointRange r : e.ranges) {
          append_escaped_char(r.lo, true, out);
          if (r.hi != r.lo) {
            out += '-';
            append_escaped_char(r.hi, true, out);
          }
        }
        out += ']';
        return;
      case ExprKind::kSeq:
        group(1, [&] {
          for (size_t i = 0; i < e.children.size(); ++i) {
            if (i) out += ' ';
            self(self, e.children[i], 2);
          }
        });
        return;
      case ExprKind::kAlt:
        group(0, [&] {
          for (size_t i = 0; i < e.children.size(); ++i) {
            if (i) out += " | ";
            self(self, e.children[i], 1);
          }
        });
        return;
      case ExprKind::kRepeat:
        group(2, [&] {
          self(self, e.children[0], 3);
          if (e.min == 0 && e.max == 1)
            out += '?';
          else if (e.min == 0 && e.max == kUnbounded)
            out += '*';
          else if (e.min == 1 && e.max == kUnbounded)
            out += '+';
          else if (e.min == e.max)
            out += "{" + std::to_string(e.min) + "}";
          else
            out += "{" + std::to_string(e.min) + "," + (e.max == kUnbounded ? "" : std::to_string(e.max)) + "}";
        });
        return;
      case ExprKind::kRuleRef:
        out += rule(e.rule).name;
        return;
    }
  };
  for (RuleId r = 0; r < num_rules(); ++r) {
    out += rule(r).name + " ::= ";
    if (rule(r).body >= 0) print(print, rule(r).body, 0);
    out += '\n';
  }
  return out;
}

}  // namespace tern::grammar
