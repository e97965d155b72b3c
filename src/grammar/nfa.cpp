#include "grammar/nfa.h"

#include "base/error.h"
#include "grammar/utf8_ranges.h"

namespace tern::grammar {
namespace {

struct Fragment {
  int32_t start;
  int32_t end;
};

class Builder {
 public:
  Builder(const Grammar& grammar, RuleId rule, const std::vector<bool>& inlined, size_t max_states)
      : grammar_(grammar), rule_(rule), inlined_(inlined), max_states_(max_states) {}

  Nfa build() {
    const Fragment f = fragment(grammar_.rule(rule_).body);
    nfa_.start = f.start;
    nfa_.accept = f.end;
    return std::move(nfa_);
  }

 private:
  int32_t state() {
    if (nfa_.edges.size() >= max_states_) {
      throw error("the grammar is too large: rule '", grammar_.rule(rule_).name, "' expands to more than ", max_states_,
                  " automaton states (large repetition counts, such as maxLength or maxItems, multiply its size)");
    }
    nfa_.edges.emplace_back();
    return int32_t(nfa_.edges.size() - 1);
  }
  void epsilon(int32_t from, int32_t to) { nfa_.edges[size_t(from)].push_back({.target = to}); }
  void byte_range(int32_t from, int32_t to, uint8_t lo, uint8_t hi) {
    nfa_.edges[size_t(from)].push_back({.kind = NfaEdge::Kind::kBytes, .lo = lo, .hi = hi, .target = to});
  }

  Fragment fragment(ExprId id) {
    const Expr& e = grammar_.expr(id);
    switch (e.kind) {
      case ExprKind::kEmpty: {
        const int32_t s = state();
        return {s, s};
      }
      case ExprKind::kBytes: {
        const int32_t start = state();
        int32_t at = start;
        for (unsigned char c : e.bytes) {
          const int32_t next = state();
          byte_range(at, next, c, c);
          at = next;
        }
        return {start, at};
      }
      case ExprKind::kCharClass: {
        const int32_t start = state(), end = state();
        for (CodepointRange r : e.ranges) {
          for (const std::vector<ByteRange>& seq : utf8_sequences(r)) {
            int32_t at = start;
            for (size_t i = 0; i < seq.size(); ++i) {
              const int32_t next = i + 1 == seq.size() ? end : state();
              byte_range(at, next, seq[i].lo, seq[i].hi);
              at = next;
            }
          }
        }
        return {start, end};
      }
      case ExprKind::kSeq: {
        const Fragment first = fragment(e.children[0]);
        int32_t end = first.end;
        for (size_t i = 1; i < e.children.size(); ++i) {
          const Fragment f = fragment(e.children[i]);
          epsilon(end, f.start);
          end = f.end;
        }
        return {first.start, end};
      }
      case ExprKind::kAlt: {
        const int32_t start = state(), end = state();
        for (ExprId child : e.children) {
          const Fragment f = fragment(child);
          epsilon(start, f.start);
          epsilon(f.end, end);
        }
        return {start, end};
      }
      case ExprKind::kRepeat:
        return repeat(e.children[0], e.min, e.max);
      case ExprKind::kRuleRef: {
        if (inlined_[size_t(e.rule)]) return fragment(grammar_.rule(e.rule).body);
        const int32_t start = state(), end = state();
        nfa_.edges[size_t(start)].push_back({.kind = NfaEdge::Kind::kCall, .rule = e.rule, .target = end});
        return {start, end};
      }
    }
    TERN_CHECK(false, "unknown expression kind");
    return {};
  }

  // child{min} then either child* or (max - min) nested optional copies.
  Fragment repeat(ExprId child, int32_t min, int32_t max) {
    const int32_t start = state();
    int32_t end = start;
    for (int32_t i = 0; i < min; ++i) {
      const Fragment f = fragment(child);
      epsilon(end, f.start);
      end = f.end;
    }
    if (max == kUnbounded) {
      const Fragment f = fragment(child);
      const int32_t out = state();
      epsilon(end, f.start);
      epsilon(end, out);
      epsilon(f.end, f.start);
      epsilon(f.end, out);
      return {start, out};
    }
    const int32_t out = state();
    epsilon(end, out);
    for (int32_t i = min; i < max; ++i) {
      const Fragment f = fragment(child);
      epsilon(end, f.start);
      epsilon(f.end, out);
      end = f.end;
    }
    return {start, out};
  }

  const Grammar& grammar_;
  RuleId rule_;
  const std::vector<bool>& inlined_;
  size_t max_states_;
  Nfa nfa_;
};

}  // namespace

Nfa build_nfa(const Grammar& grammar, RuleId rule, const std::vector<bool>& inlined, size_t max_states) {
  return Builder(grammar, rule, inlined, max_states).build();
}

}  // namespace tern::grammar
