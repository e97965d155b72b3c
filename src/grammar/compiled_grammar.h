// A grammar compiled for one vocabulary: its pushdown automaton, and the token masks of
// the automaton states a matcher meets on top of a stack (node_masks.h), each computed the
// first time a matcher needs it and kept, so that a decoding step mostly combines cached
// masks and checks the few tokens that depend on the stack. Safe to share between
// requests and threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "grammar/automaton.h"
#include "grammar/grammar.h"
#include "grammar/node_masks.h"
#include "grammar/vocabulary.h"

namespace tern::grammar {

class CompiledGrammar {
 public:
  // Builds the automaton; throws tern::Error (see Automaton::build) for a grammar that
  // cannot be compiled. No token mask is computed yet.
  static std::shared_ptr<const CompiledGrammar> compile(const Grammar& grammar,
                                                        std::shared_ptr<const Vocabulary> vocabulary,
                                                        const AutomatonLimits& limits = {});
  ~CompiledGrammar();

  const Automaton& automaton() const { return automaton_; }
  const Vocabulary& vocabulary() const { return *vocabulary_; }
  // The masks of `state`, which must have byte edges; the first call computes them (a
  // walk over the vocabulary's trie: up to a few milliseconds for a state that accepts
  // most tokens, such as inside a string).
  const NodeMask& node_mask(int32_t state) const {
    const NodeMask* mask = masks_[size_t(state)].load(std::memory_order_acquire);
    return mask ? *mask : build_mask(state);
  }
  // Masks computed so far, and their size.
  size_t num_masks() const;
  size_t memory_bytes() const;

 private:
  CompiledGrammar(Automaton automaton, std::shared_ptr<const Vocabulary> vocabulary);
  const NodeMask& build_mask(int32_t state) const;

  Automaton automaton_;
  std::shared_ptr<const Vocabulary> vocabulary_;
  std::unique_ptr<std::atomic<const NodeMask*>[]> masks_;  // per state, null until built
  mutable std::mutex build_mutex_;                         // guards builder_ and the counters
  mutable NodeMaskBuilder builder_;
  mutable size_t num_masks_ = 0;
  mutable size_t memory_bytes_ = 0;
};

}  // namespace tern::grammar
