// The grammar IR every source format compiles to (JSON schema, regex, GBNF text, choice):
// rules whose bodies are expressions over bytes and Unicode code points. An expression is
// a literal byte string, one code point from a set of ranges (matched as its UTF-8), a
// sequence, an alternation, a bounded or unbounded repetition, or a reference to a rule.
// compile() (compiled_grammar.h) turns a Grammar into a pushdown automaton over bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tern::grammar {

using ExprId = int32_t;
using RuleId = int32_t;

// Code points lo..hi, inclusive.
struct CodepointRange {
  char32_t lo = 0;
  char32_t hi = 0;
  bool operator==(const CodepointRange&) const = default;
};

inline constexpr char32_t kMaxCodepoint = 0x10FFFF;
inline constexpr int32_t kUnbounded = -1;  // Expr::max of an open repetition

enum class ExprKind { kEmpty, kBytes, kCharClass, kSeq, kAlt, kRepeat, kRuleRef };

struct Expr {
  ExprKind kind = ExprKind::kEmpty;
  std::string bytes;                   // kBytes: matched as is
  std::vector<CodepointRange> ranges;  // kCharClass: sorted, disjoint, no surrogates
  std::vector<ExprId> children;        // kSeq, kAlt; kRepeat: exactly one
  int32_t min = 0;                     // kRepeat
  int32_t max = 0;                     // kRepeat: >= min, or kUnbounded
  RuleId rule = -1;                    // kRuleRef
};

struct Rule {
  std::string name;
  ExprId body = -1;
  // May the compiler copy this rule into the rules that use it? Sources say no for rules
  // worth sharing (a JSON string, any JSON value): a shared rule's token masks are computed
  // once for all its uses.
  bool inline_ok = true;
};

class Grammar {
 public:
  ExprId empty();
  ExprId bytes(std::string_view text);
  // One code point in `ranges` (any order, may overlap; surrogates are dropped), or with
  // `negated` one code point outside them. An empty set matches nothing.
  ExprId char_class(std::vector<CodepointRange> ranges, bool negated = false);
  ExprId seq(std::vector<ExprId> items);
  ExprId alt(std::vector<ExprId> items);
  // child{min,max}; max may be kUnbounded. Throws tern::Error when max < min or min < 0.
  ExprId repeat(ExprId child, int32_t min, int32_t max);
  ExprId optional(ExprId child) { return repeat(child, 0, 1); }
  ExprId star(ExprId child) { return repeat(child, 0, kUnbounded); }
  ExprId plus(ExprId child) { return repeat(child, 1, kUnbounded); }
  ExprId ref(RuleId rule);

  // A rule without a body yet (so rules can refer to each other); names must be unique.
  RuleId add_rule(std::string name, bool inline_ok = true);
  void set_body(RuleId rule, ExprId body);
  // The rule named `name`, or -1.
  RuleId find_rule(std::string_view name) const;
  void set_root(RuleId rule) { root_ = rule; }
  // A fresh rule name starting with `stem` ("stem", "stem_2", ...).
  std::string unique_name(std::string_view stem) const;

  RuleId root() const { return root_; }
  const Expr& expr(ExprId id) const { return exprs_[size_t(id)]; }
  const Rule& rule(RuleId id) const { return rules_[size_t(id)]; }
  int32_t num_rules() const { return int32_t(rules_.size()); }
  int32_t num_exprs() const { return int32_t(exprs_.size()); }

  // The grammar in the GBNF text format (gbnf.h), for error messages and tests.
  std::string to_gbnf() const;

 private:
  ExprId add(Expr e);

  std::vector<Expr> exprs_;
  std::vector<Rule> rules_;
  RuleId root_ = -1;
};

// Sorted, merged ranges without surrogates; `negated` takes the complement in
// [0, kMaxCodepoint].
std::vector<CodepointRange> normalize_ranges(std::vector<CodepointRange> ranges, bool negated);

}  // namespace tern::grammar
