// One rule as a deterministic automaton over byte classes with call edges (subset
// construction of its NFA, then Moore minimisation). Calls of rules that can match the
// empty string are also crossed without a call, so that every call consumes input: the
// automaton of a rule never matches the empty string itself (the rule's nullability is
// kept apart).
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "grammar/nfa.h"

namespace tern::grammar {

// Bytes that no edge of the grammar tells apart share a class.
struct ByteClasses {
  std::array<uint8_t, 256> of_byte{};
  int32_t count = 0;
};

// The coarsest classes that keep every edge's byte range whole.
ByteClasses byte_classes(const std::vector<Nfa>& nfas);

struct RuleDfa {
  int32_t num_states = 0;
  int32_t num_classes = 0;
  std::vector<int32_t> next;  // [num_states * num_classes], -1: no edge
  std::vector<uint8_t> accepting;
  std::vector<std::vector<std::pair<RuleId, int32_t>>> calls;  // per state: (callee, return state)
  int32_t start = 0;

  int32_t& at(int32_t state, int32_t cls) { return next[size_t(state) * size_t(num_classes) + size_t(cls)]; }
  int32_t at(int32_t state, int32_t cls) const { return next[size_t(state) * size_t(num_classes) + size_t(cls)]; }
};

// `nullable[r]`: rule r matches the empty string. Throws tern::Error naming the rule
// beyond `max_states` states.
RuleDfa determinize(const Nfa& nfa, const ByteClasses& classes, const std::vector<bool>& nullable,
                    const std::string& rule_name, size_t max_states);

// The minimal automaton with the same language (and calls), by Moore's partition
// refinement; `dfa` itself when that takes more than 64 rounds (long counted repetitions).
RuleDfa minimize(const RuleDfa& dfa);

// Makes the start state non-accepting (a copy of it, when it is accepting), so that the
// automaton does not match the empty string.
void drop_empty_match(RuleDfa& dfa);

// Keeps only `keep` states (and edges between them), renumbered in order.
RuleDfa keep_states(const RuleDfa& dfa, const std::vector<bool>& keep);

}  // namespace tern::grammar
