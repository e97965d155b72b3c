#include "grammar/automaton.h"

#include <algorithm>
#include <functional>

#include "base/error.h"
#include "grammar/nfa.h"
#include "grammar/rule_dfa.h"

namespace tern::grammar {
namespace {

// Rules referenced by an expression, in order of appearance.
void collect_refs(const Grammar& g, ExprId id, std::vector<RuleId>& out) {
  const Expr& e = g.expr(id);
  if (e.kind == ExprKind::kRuleRef) out.push_back(e.rule);
  for (ExprId child : e.children) collect_refs(g, child, out);
}

// Rules that can reach themselves through references (Tarjan's strongly connected
// components; a rule is recursive when its component has a cycle).
std::vector<bool> recursive_rules(const Grammar& g, const std::vector<std::vector<RuleId>>& refs) {
  const size_t n = size_t(g.num_rules());
  std::vector<int32_t> index(n, -1), low(n, 0);
  std::vector<bool> on_stack(n, false), recursive(n, false);
  std::vector<RuleId> stack;
  int32_t counter = 0;
  std::function<void(RuleId)> visit = [&](RuleId v) {
    index[size_t(v)] = low[size_t(v)] = counter++;
    stack.push_back(v);
    on_stack[size_t(v)] = true;
    for (RuleId w : refs[size_t(v)]) {
      if (w == v) recursive[size_t(v)] = true;
      if (index[size_t(w)] < 0) {
        visit(w);
        low[size_t(v)] = std::min(low[size_t(v)], low[size_t(w)]);
      } else if (on_stack[size_t(w)]) {
        low[size_t(v)] = std::min(low[size_t(v)], index[size_t(w)]);
      }
    }
    if (low[size_t(v)] != index[size_t(v)]) return;
    std::vector<RuleId> component;
    RuleId w;
    do {
      w = stack.back();
      stack.pop_back();
      on_stack[size_t(w)] = false;
      component.push_back(w);
    } while (w != v);
    if (component.size() > 1)
      for (RuleId r : component) recursive[size_t(r)] = true;
  };
  for (RuleId r = 0; r < g.num_rules(); ++r)
    if (index[size_t(r)] < 0) visit(r);
  return recursive;
}

// Automaton size of an expression with the chosen rules expanded (saturating).
double expanded_size(const Grammar& g, ExprId id, const std::vector<bool>& inlined,
                     const std::vector<double>& rule_size) {
  const Expr& e = g.expr(id);
  switch (e.kind) {
    case ExprKind::kEmpty:
      return 1;
    case ExprKind::kBytes:
      return double(e.bytes.size()) + 1;
    case ExprKind::kCharClass:
      return 4.0 * double(e.ranges.size()) + 2;
    case ExprKind::kSeq:
    case ExprKind::kAlt: {
      double total = 2;
      for (ExprId c : e.children) total += expanded_size(g, c, inlined, rule_size);
      return total;
    }
    case ExprKind::kRepeat: {
      const double copies = e.max == kUnbounded ? double(e.min) + 1 : double(e.max);
      return copies * expanded_size(g, e.children[0], inlined, rule_size) + 2;
    }
    case ExprKind::kRuleRef:
      return inlined[size_t(e.rule)] ? rule_size[size_t(e.rule)] : 2;
  }
  return 1;
}

}  // namespace

Automaton Automaton::build(const Grammar& g, const AutomatonLimits& limits) {
  if (g.root() < 0) throw error("the grammar has no root rule");
  const size_t n = size_t(g.num_rules());
  std::vector<std::vector<RuleId>> refs(n);
  for (RuleId r = 0; r < g.num_rules(); ++r)
    if (g.rule(r).body >= 0) collect_refs(g, g.rule(r).body, refs[size_t(r)]);

  // Rules reachable from the root must be defined.
  std::vector<bool> used(n, false);
  std::vector<RuleId> order;  // post-order: a rule after the rules it references
  std::function<void(RuleId)> visit = [&](RuleId r) {
    used[size_t(r)] = true;
    if (g.rule(r).body < 0) throw error("rule '", g.rule(r).name, "' is used but not defined");
    for (RuleId x : refs[size_t(r)])
      if (!used[size_t(x)]) visit(x);
    order.push_back(r);
  };
  visit(g.root());

  // Inline small rules that cannot reach themselves.
  const std::vector<bool> recursive = recursive_rules(g, refs);
  std::vector<bool> inlined(n, false);
  std::vector<double> size(n, 0);
  for (RuleId r : order) {
    size[size_t(r)] = expanded_size(g, g.rule(r).body, inlined, size);
    inlined[size_t(r)] = r != g.root() && !recursive[size_t(r)] && g.rule(r).inline_ok &&
                         size[size_t(r)] <= double(limits.max_inline_size);
  }

  // The rules that stay rules: the root and every rule called from one of them.
  std::vector<int32_t> index_of(n, -1);
  std::vector<RuleId> called;
  std::function<void(RuleId)> add_called = [&](RuleId r) {
    index_of[size_t(r)] = int32_t(called.size());
    called.push_back(r);
    std::function<void(RuleId)> scan = [&](RuleId body_of) {
      for (RuleId x : refs[size_t(body_of)]) {
        if (inlined[size_t(x)])
          scan(x);
        else if (index_of[size_t(x)] < 0)
          add_called(x);
      }
    };
    scan(r);
  };
  add_called(g.root());

  std::vector<Nfa> nfas;
  for (RuleId r : called) nfas.push_back(build_nfa(g, r, inlined, limits.max_states_per_rule));
  const ByteClasses classes = byte_classes(nfas);

  // Nullable rules, by fixpoint: the accept state is reachable through epsilon moves and
  // calls of nullable rules.
  std::vector<bool> nullable(n, false);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < called.size(); ++i) {
      if (nullable[size_t(called[i])]) continue;
      const Nfa& nfa = nfas[i];
      std::vector<bool> seen(size_t(nfa.num_states()), false);
      std::vector<int32_t> stack{nfa.start};
      seen[size_t(nfa.start)] = true;
      while (!stack.empty() && !nullable[size_t(called[i])]) {
        const int32_t s = stack.back();
        stack.pop_back();
        if (s == nfa.accept) {
          nullable[size_t(called[i])] = changed = true;
          break;
        }
        for (const NfaEdge& e : nfa.edges[size_t(s)]) {
          const bool free =
              e.kind == NfaEdge::Kind::kEpsilon || (e.kind == NfaEdge::Kind::kCall && nullable[size_t(e.rule)]);
          if (free && !seen[size_t(e.target)]) {
            seen[size_t(e.target)] = true;
            stack.push_back(e.target);
          }
        }
      }
    }
  }

  std::vector<RuleDfa> dfas;
  for (size_t i = 0; i < called.size(); ++i) {
    RuleDfa dfa = minimize(determinize(nfas[i], classes, nullable, g.rule(called[i]).name, limits.max_states_per_rule));
    drop_empty_match(dfa);
    // Calls name automaton rules from here on.
    for (auto& state_calls : dfa.calls)
      for (auto& [rule, target] : state_calls) rule = index_of[size_t(rule)];
    dfas.push_back(std::move(dfa));
  }
  nfas.clear();

  // Live states (from which the rule can complete) and productive rules, by fixpoint.
  const size_t num_rules = dfas.size();
  std::vector<std::vector<bool>> live(num_rules);
  for (size_t r = 0; r < num_rules; ++r) live[r].assign(size_t(dfas[r].num_states), false);
  std::vector<bool> productive(num_rules, false);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < num_rules; ++r) {
      const RuleDfa& d = dfas[r];
      for (int32_t s = 0; s < d.num_states; ++s) {
        if (live[r][size_t(s)]) continue;
        bool is_live = d.accepting[size_t(s)];
        for (int32_t c = 0; c < d.num_classes && !is_live; ++c) {
          const int32_t t = d.at(s, c);
          is_live = t >= 0 && live[r][size_t(t)];
        }
        for (const auto& [rule, t] : d.calls[size_t(s)])
          is_live = is_live || (productive[size_t(rule)] && live[r][size_t(t)]);
        if (is_live) live[r][size_t(s)] = changed = true;
      }
      if (!productive[r] && live[r][size_t(d.start)]) productive[r] = changed = true;
    }
  }
  if (!productive[0] && !nullable[size_t(g.root())]) throw error("the grammar matches no output at all");
  for (size_t r = 0; r < num_rules; ++r) {
    RuleDfa& d = dfas[r];
    for (auto& state_calls : d.calls) {
      std::erase_if(state_calls, [&](const auto& call) { return !productive[size_t(call.first)]; });
    }
    std::vector<bool> keep = live[r];
    keep[size_t(d.start)] = true;  // the root's start stays even when only the empty output is left
    d = keep_states(d, keep);
  }

  // Left recursion: a rule that calls itself, directly or through other calls, from its start.
  std::vector<int8_t> mark(num_rules, 0);  // 0 new, 1 on the path, 2 done
  std::vector<int32_t> path;
  std::function<void(int32_t)> check = [&](int32_t r) {
    mark[size_t(r)] = 1;
    path.push_back(r);
    for (const auto& [callee, ret] : dfas[size_t(r)].calls[size_t(dfas[size_t(r)].start)]) {
      if (mark[size_t(callee)] == 1) {
        std::string cycle;
        for (auto it = std::find(path.begin(), path.end(), callee); it != path.end(); ++it)
          cycle += g.rule(called[size_t(*it)]).name + " -> ";
        throw error("rule '", g.rule(called[size_t(callee)]).name, "' is left-recursive (", cycle,
                    g.rule(called[size_t(callee)]).name, " without consuming input); rewrite it with repetition");
      }
      if (mark[size_t(callee)] == 0) check(callee);
    }
    path.pop_back();
    mark[size_t(r)] = 2;
  };
  for (size_t r = 0; r < num_rules; ++r)
    if (mark[r] == 0) check(int32_t(r));

  // One numbering of all states.
  Automaton a;
  a.num_classes_ = classes.count;
  a.byte_class_ = classes.of_byte;
  a.root_nullable_ = nullable[size_t(g.root())];
  std::vector<int32_t> offset(num_rules + 1, 0);
  for (size_t r = 0; r < num_rules; ++r) offset[r + 1] = offset[r] + dfas[r].num_states;
  const size_t total = size_t(offset[num_rules]);
  a.next_.assign(total * size_t(classes.count), -1);
  a.accepting_.resize(total);
  a.flags_.resize(total);
  a.rule_of_state_.resize(total);
  a.call_begin_.push_back(0);
  for (size_t r = 0; r < num_rules; ++r) {
    const RuleDfa& d = dfas[r];
    a.rule_start_.push_back(offset[r] + d.start);
    a.rule_names_.push_back(g.rule(called[r]).name);
    for (int32_t s = 0; s < d.num_states; ++s) {
      const size_t global = size_t(offset[r] + s);
      a.accepting_[global] = d.accepting[size_t(s)];
      a.rule_of_state_[global] = int32_t(r);
      bool any = false;
      for (int32_t c = 0; c < d.num_classes; ++c) {
        const int32_t t = d.at(s, c);
        if (t >= 0) a.next_[global * size_t(classes.count) + size_t(c)] = offset[r] + t, any = true;
      }
      for (const auto& [callee, t] : d.calls[size_t(s)]) a.calls_.push_back({callee, offset[r] + t});
      a.flags_[global] = uint8_t((any ? kHasBytes : 0) | (d.calls[size_t(s)].empty() ? 0 : kHasCalls) |
                                 (d.accepting[size_t(s)] ? kAccepting : 0));
      a.call_begin_.push_back(int32_t(a.calls_.size()));
    }
  }

  // Reachable states: from the root's start through edges, calls (callee starts) and returns.
  a.reachable_.assign(total, false);
  std::vector<int32_t> stack{a.rule_start_[0]};
  a.reachable_[size_t(a.rule_start_[0])] = true;
  const auto reach = [&](int32_t s) {
    if (!a.reachable_[size_t(s)]) a.reachable_[size_t(s)] = true, stack.push_back(s);
  };
  while (!stack.empty()) {
    const int32_t s = stack.back();
    stack.pop_back();
    for (int32_t c = 0; c < a.num_classes_; ++c) {
      const int32_t t = a.next_[size_t(s) * size_t(a.num_classes_) + size_t(c)];
      if (t >= 0) reach(t);
    }
    for (const Call& call : a.calls(s)) {
      reach(call.return_state);
      reach(a.rule_start_[size_t(call.rule)]);
    }
  }

  // First bytes of each state (including what follows when its rule completes there) and
  // follow bytes of each rule, by fixpoint.
  std::vector<std::bitset<256>> first(total);
  a.follow_.assign(num_rules, {});
  for (size_t s = 0; s < total; ++s)
    for (int b = 0; b < 256; ++b)
      if (a.next(int32_t(s), uint8_t(b)) >= 0) first[s].set(size_t(b));
  for (bool changed = true; changed;) {
    changed = false;
    const auto merge = [&](std::bitset<256>& into, const std::bitset<256>& from) {
      const std::bitset<256> merged = into | from;
      if (merged != into) into = merged, changed = true;
    };
    for (size_t s = 0; s < total; ++s) {
      for (const Call& call : a.calls(int32_t(s))) {
        merge(first[s], first[size_t(a.rule_start_[size_t(call.rule)])]);
        merge(a.follow_[size_t(call.rule)], first[size_t(call.return_state)]);
      }
      if (a.accepting_[s]) merge(first[s], a.follow_[size_t(a.rule_of_state_[s])]);
    }
  }
  return a;
}

}  // namespace tern::grammar
