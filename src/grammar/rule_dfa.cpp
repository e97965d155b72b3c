#include "grammar/rule_dfa.h"

#include <algorithm>
#include <map>
#include <string>

#include "base/error.h"

namespace tern::grammar {
namespace {

using StateSet = std::vector<int32_t>;

constexpr int kMaxMinimizeRounds = 64;

// Epsilon closure; calls of nullable rules count as epsilon moves.
StateSet closure(const Nfa& nfa, const std::vector<bool>& nullable, StateSet seeds, std::vector<uint8_t>& seen) {
  StateSet out;
  std::vector<int32_t> stack = std::move(seeds);
  while (!stack.empty()) {
    const int32_t s = stack.back();
    stack.pop_back();
    if (seen[size_t(s)]) continue;
    seen[size_t(s)] = 1;
    out.push_back(s);
    for (const NfaEdge& e : nfa.edges[size_t(s)]) {
      const bool free =
          e.kind == NfaEdge::Kind::kEpsilon || (e.kind == NfaEdge::Kind::kCall && nullable[size_t(e.rule)]);
      if (free && !seen[size_t(e.target)]) stack.push_back(e.target);
    }
  }
  for (int32_t s : out) seen[size_t(s)] = 0;
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

ByteClasses byte_classes(const std::vector<Nfa>& nfas) {
  std::array<bool, 257> boundary{};
  boundary[0] = true;
  for (const Nfa& nfa : nfas) {
    for (const auto& edges : nfa.edges) {
      for (const NfaEdge& e : edges) {
        if (e.kind != NfaEdge::Kind::kBytes) continue;
        boundary[e.lo] = true;
        boundary[size_t(e.hi) + 1] = true;
      }
    }
  }
  ByteClasses classes;
  int32_t cls = -1;
  for (int b = 0; b < 256; ++b) {
    if (boundary[size_t(b)]) ++cls;
    classes.of_byte[size_t(b)] = uint8_t(cls);
  }
  classes.count = cls + 1;
  return classes;
}

RuleDfa determinize(const Nfa& nfa, const ByteClasses& classes, const std::vector<bool>& nullable,
                    const std::string& rule_name, size_t max_states) {
  RuleDfa dfa;
  dfa.num_classes = classes.count;
  std::map<StateSet, int32_t> ids;
  std::vector<StateSet> sets;
  std::vector<uint8_t> seen(size_t(nfa.num_states()), 0);
  const auto intern = [&](StateSet set) {
    const auto [it, added] = ids.emplace(set, int32_t(sets.size()));
    if (added) {
      if (sets.size() >= max_states) {
        throw error("the grammar is too large: rule '", rule_name, "' needs more than ", max_states,
                    " automaton states (large repetition counts, such as maxLength or maxItems, multiply its size)");
      }
      sets.push_back(std::move(set));
      dfa.next.resize(sets.size() * size_t(classes.count), -1);
      dfa.accepting.push_back(0);
      dfa.calls.emplace_back();
    }
    return it->second;
  };
  dfa.start = intern(closure(nfa, nullable, {nfa.start}, seen));
  std::vector<StateSet> by_class(size_t(classes.count));
  std::map<RuleId, StateSet> by_call;
  for (size_t d = 0; d < sets.size(); ++d) {
    for (StateSet& s : by_class) s.clear();
    by_call.clear();
    bool accepting = false;
    for (int32_t s : sets[d]) {
      if (s == nfa.accept) accepting = true;
      for (const NfaEdge& e : nfa.edges[size_t(s)]) {
        if (e.kind == NfaEdge::Kind::kBytes) {
          for (int32_t c = classes.of_byte[e.lo]; c <= classes.of_byte[e.hi]; ++c)
            by_class[size_t(c)].push_back(e.target);
        } else if (e.kind == NfaEdge::Kind::kCall) {
          by_call[e.rule].push_back(e.target);
        }
      }
    }
    dfa.accepting[d] = accepting;
    for (int32_t c = 0; c < classes.count; ++c) {
      if (by_class[size_t(c)].empty()) continue;
      const int32_t target = intern(closure(nfa, nullable, by_class[size_t(c)], seen));
      dfa.at(int32_t(d), c) = target;
    }
    for (auto& [rule, targets] : by_call) {
      const int32_t target = intern(closure(nfa, nullable, targets, seen));
      dfa.calls[d].emplace_back(rule, target);
    }
  }
  dfa.num_states = int32_t(sets.size());
  return dfa;
}

RuleDfa minimize(const RuleDfa& dfa) {
  const int32_t n = dfa.num_states, k = dfa.num_classes;
  std::vector<int32_t> part(static_cast<size_t>(n));
  for (int32_t s = 0; s < n; ++s) part[size_t(s)] = dfa.accepting[size_t(s)];
  int32_t num_parts = 0;
  for (int round = 0;; ++round) {
    // Long counted repetitions (maxLength) need a round per step of the count; their
    // automata are near-minimal as built, so they are kept as they are.
    if (round == kMaxMinimizeRounds) return dfa;
    std::map<std::vector<int32_t>, int32_t> ids;
    std::vector<int32_t> next_part(static_cast<size_t>(n));
    std::vector<int32_t> sig;
    for (int32_t s = 0; s < n; ++s) {
      sig.assign({part[size_t(s)]});
      for (int32_t c = 0; c < k; ++c) {
        const int32_t t = dfa.at(s, c);
        sig.push_back(t < 0 ? -1 : part[size_t(t)]);
      }
      for (const auto& [rule, t] : dfa.calls[size_t(s)]) {
        sig.push_back(rule);
        sig.push_back(part[size_t(t)]);
      }
      next_part[size_t(s)] = ids.emplace(sig, int32_t(ids.size())).first->second;
    }
    const int32_t count = int32_t(ids.size());
    part.swap(next_part);
    if (count == num_parts) break;
    num_parts = count;
  }
  RuleDfa out;
  out.num_states = num_parts;
  out.num_classes = k;
  out.next.assign(size_t(num_parts) * size_t(k), -1);
  out.accepting.assign(size_t(num_parts), 0);
  out.calls.resize(size_t(num_parts));
  std::vector<bool> done(size_t(num_parts), false);
  for (int32_t s = 0; s < n; ++s) {
    const int32_t p = part[size_t(s)];
    if (done[size_t(p)]) continue;
    done[size_t(p)] = true;
    out.accepting[size_t(p)] = dfa.accepting[size_t(s)];
    for (int32_t c = 0; c < k; ++c) {
      const int32_t t = dfa.at(s, c);
      out.at(p, c) = t < 0 ? -1 : part[size_t(t)];
    }
    for (const auto& [rule, t] : dfa.calls[size_t(s)]) out.calls[size_t(p)].emplace_back(rule, part[size_t(t)]);
  }
  out.start = part[size_t(dfa.start)];
  return out;
}

void drop_empty_match(RuleDfa& dfa) {
  if (!dfa.accepting[size_t(dfa.start)]) return;
  const int32_t copy = dfa.num_states++;
  dfa.next.resize(size_t(dfa.num_states) * size_t(dfa.num_classes), -1);
  for (int32_t c = 0; c < dfa.num_classes; ++c) dfa.at(copy, c) = dfa.at(dfa.start, c);
  dfa.accepting.push_back(0);
  dfa.calls.push_back(dfa.calls[size_t(dfa.start)]);
  dfa.start = copy;
}

RuleDfa keep_states(const RuleDfa& dfa, const std::vector<bool>& keep) {
  std::vector<int32_t> id(size_t(dfa.num_states), -1);
  RuleDfa out;
  out.num_classes = dfa.num_classes;
  for (int32_t s = 0; s < dfa.num_states; ++s)
    if (keep[size_t(s)]) id[size_t(s)] = out.num_states++;
  out.next.assign(size_t(out.num_states) * size_t(out.num_classes), -1);
  out.accepting.assign(size_t(out.num_states), 0);
  out.calls.resize(size_t(out.num_states));
  for (int32_t s = 0; s < dfa.num_states; ++s) {
    const int32_t to = id[size_t(s)];
    if (to < 0) continue;
    out.accepting[size_t(to)] = dfa.accepting[size_t(s)];
    for (int32_t c = 0; c < dfa.num_classes; ++c) {
      const int32_t t = dfa.at(s, c);
      if (t >= 0 && id[size_t(t)] >= 0) out.at(to, c) = id[size_t(t)];
    }
    for (const auto& [rule, t] : dfa.calls[size_t(s)])
      if (id[size_t(t)] >= 0) out.calls[size_t(to)].emplace_back(rule, id[size_t(t)]);
  }
  out.start = id[size_t(dfa.start)];
  return out;
}

}  // namespace tern::grammar
