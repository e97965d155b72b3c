// The pushdown automaton a Grammar compiles to: one deterministic automaton per rule over
// bytes, whose edges consume a byte or call a rule (push a frame that resumes at the edge's
// target when the callee completes). Rules that cannot reach themselves are copied into
// their users unless they ask to be shared (Rule::inline_ok), so most grammars keep few
// rules. Every rule automaton is trimmed to states from which its rule can complete, calls
// always consume input, and no rule can call itself without consuming input, so a
// matcher never meets a dead end or an endless expansion.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "grammar/grammar.h"

namespace tern::grammar {

struct AutomatonLimits {
  size_t max_states_per_rule = 200'000;
  // A rule is copied into its users only when its automaton stays this small.
  size_t max_inline_size = 4096;
};

class Automaton {
 public:
  struct Call {
    int32_t rule = 0;          // the callee
    int32_t return_state = 0;  // the caller's state once the callee completes
  };

  // Throws tern::Error for a grammar without a root, a rule used but never defined, a
  // left-recursive rule, a grammar that matches nothing, or one beyond `limits`.
  static Automaton build(const Grammar& grammar, const AutomatonLimits& limits = {});

  int32_t num_states() const { return int32_t(accepting_.size()); }
  int32_t num_rules() const { return int32_t(rule_start_.size()); }
  // The state after `byte`, or -1.
  int32_t next(int32_t state, uint8_t byte) const {
    return next_[size_t(state) * size_t(num_classes_) + byte_class_[byte]];
  }
  bool accepting(int32_t state) const { return accepting_[size_t(state)]; }
  bool has_byte_edges(int32_t state) const { return flags_[size_t(state)] & kHasBytes; }
  // Has byte edges, no calls and does not complete its rule: a walk stays in one frame.
  bool only_consumes(int32_t state) const { return flags_[size_t(state)] == kHasBytes; }
  std::span<const Call> calls(int32_t state) const {
    return {calls_.data() + call_begin_[size_t(state)],
            size_t(call_begin_[size_t(state) + 1] - call_begin_[size_t(state)])};
  }
  int32_t rule_of(int32_t state) const { return rule_of_state_[size_t(state)]; }
  int32_t rule_start(int32_t rule) const { return rule_start_[size_t(rule)]; }
  const std::string& rule_name(int32_t rule) const { return rule_names_[size_t(rule)]; }
  // Rule 0 is the root. root_nullable: the grammar matches the empty output.
  bool root_nullable() const { return root_nullable_; }
  // Whether `byte` can come right after a completed call of `rule`.
  bool may_follow(int32_t rule, uint8_t byte) const { return follow_[size_t(rule)][byte]; }
  // States a matcher can reach (from the root's start, through calls and returns).
  const std::vector<bool>& reachable() const { return reachable_; }

 private:
  int32_t num_classes_ = 0;
  std::array<uint8_t, 256> byte_class_{};
  std::vector<int32_t> next_;
  std::vector<uint8_t> accepting_;
  static constexpr uint8_t kHasBytes = 1, kHasCalls = 2, kAccepting = 4;
  std::vector<uint8_t> flags_;  // kHasBytes | kHasCalls | kAccepting per state
  std::vector<int32_t> call_begin_;
  std::vector<Call> calls_;
  std::vector<int32_t> rule_of_state_;
  std::vector<int32_t> rule_start_;
  std::vector<std::string> rule_names_;
  std::vector<std::bitset<256>> follow_;
  std::vector<bool> reachable_;
  bool root_nullable_ = false;
};

}  // namespace tern::grammar
