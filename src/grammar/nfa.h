// Thompson construction: one rule's body as a nondeterministic automaton over bytes whose
// edges are epsilon moves, byte ranges, or calls of other rules. References to rules the
// compiler chose to inline are expanded in place; the rest stay calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "grammar/grammar.h"

namespace tern::grammar {

struct NfaEdge {
  enum class Kind : uint8_t { kEpsilon, kBytes, kCall };
  Kind kind = Kind::kEpsilon;
  uint8_t lo = 0;  // kBytes: lo..hi inclusive
  uint8_t hi = 0;
  RuleId rule = -1;  // kCall
  int32_t target = 0;
};

struct Nfa {
  std::vector<std::vector<NfaEdge>> edges;  // per state
  int32_t start = 0;
  int32_t accept = 0;  // the one accepting state
  int32_t num_states() const { return int32_t(edges.size()); }
};

// The automaton of `rule`'s body. `inlined[r]` says whether references to rule r are
// expanded (only rules that cannot reach themselves). Throws tern::Error naming the rule
// when the automaton would exceed `max_states` states.
Nfa build_nfa(const Grammar& grammar, RuleId rule, const std::vector<bool>& inlined, size_t max_states);

}  // namespace tern::grammar
