// The token masks of one automaton state, computed once per grammar (XGrammar's split of
// the vocabulary). For a matcher whose stack has `state` on top, a token is
//   - accepted when its bytes can be consumed without completing the top frame's rule
//     (calls it makes inside are fine), or complete it exactly at the token's end;
//   - uncertain when it can only be consumed by completing the rule part-way through the
//     token: the rest of the token ("suffix") must then fit what the frames below expect,
//     which only the matcher knows. Tokens whose suffix starts with a byte that can never
//     follow the rule are rejected here already;
//   - rejected otherwise.
// Uncertain tokens are grouped by suffix, so the matcher checks each suffix once.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "grammar/automaton.h"
#include "grammar/vocabulary.h"

namespace tern::grammar {

struct SuffixGroup {
  std::string suffix;           // non-empty
  std::vector<int32_t> tokens;  // uncertain tokens that complete the rule right before `suffix`
};

class NodeMask {
 public:
  // ORs the accepted tokens into `words` (a bitmask over the vocabulary).
  void add_accepted(std::span<uint32_t> words) const;
  bool accepts(int32_t token) const;
  size_t num_accepted() const { return num_accepted_; }
  const std::vector<SuffixGroup>& uncertain() const { return uncertain_; }
  size_t memory_bytes() const;

 private:
  friend class NodeMaskBuilder;
  size_t num_accepted_ = 0;
  std::vector<uint32_t> accepted_bits_;  // when dense
  std::vector<int32_t> accepted_ids_;    // when sparse, sorted
  std::vector<SuffixGroup> uncertain_;
};

// Computes the masks of automaton states by walking the vocabulary's trie. Not
// thread-safe (scratch buffers); one per compiling thread.
class NodeMaskBuilder {
 public:
  NodeMaskBuilder(const Automaton& automaton, const Vocabulary& vocabulary);
  // `state` must have byte edges.
  NodeMask build(int32_t state);

 private:
  // Stacks of frames whose bottom frame is the rule the mask is for, flattened as
  // [length, bottom state, ..., top state] per stack. The common case, one stack of one
  // frame, is kept in `single` instead.
  struct StackSet {
    int32_t single = -1;
    std::vector<int32_t> data;
    int32_t count = 0;
    void clear() { single = -1, data.clear(), count = 0; }
  };
  // `to` = the stacks of `from` after `byte`; returns whether a stack completed the bottom
  // frame's rule on the way.
  bool advance(const StackSet& from, uint8_t byte, StackSet& to);
  // Adds the stack in frames_ (its top just entered) to `to`, expanding calls and returns.
  void expand(StackSet& to, bool& exited);
  void add_unique(StackSet& to);

  const Automaton& automaton_;
  const Vocabulary& vocabulary_;
  std::vector<StackSet> levels_;  // per depth
  std::vector<int32_t> frames_;   // scratch stack
  std::vector<uint32_t> accepted_scratch_;
  std::vector<int32_t> single_scratch_;
};

}  // namespace tern::grammar
