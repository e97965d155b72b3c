// The state of one constrained sequence: which stacks of the grammar's pushdown automaton
// the output so far leaves open. Per step, fill_mask() writes the tokens that may come
// next; accept_token() moves past the sampled one. A matcher is used by one thread at a
// time; the CompiledGrammar it reads is shared.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/compiled_grammar.h"

namespace tern::grammar {

class Matcher {
 public:
  explicit Matcher(std::shared_ptr<const CompiledGrammar> grammar);

  // Moves past `token`'s bytes. Returns false, changing nothing, when the grammar does not
  // allow them here (special tokens and tokens without bytes never match).
  bool accept_token(int32_t token);
  // The same for raw bytes (tests, forced text).
  bool accept_bytes(std::string_view bytes);

  // Writes bit (id % 32) of words[id / 32] for every token that may come next, clears the
  // others (words past the vocabulary included). words.size() >= vocabulary mask_words().
  // End-of-output tokens are the caller's: see can_end().
  void fill_mask(std::span<uint32_t> words);
  // The output so far is a complete match: end-of-output may come next.
  bool can_end() const { return can_end_; }
  // Complete, and nothing can be added: only end-of-output may come next.
  bool is_terminated() const { return can_end_ && tops_.empty(); }

  const CompiledGrammar& grammar() const { return *grammar_; }

 private:
  // A stack is a node: its top frame's state, and the node below (-1 at the bottom).
  struct Node {
    int32_t state;
    int32_t parent;
  };
  int32_t intern(int32_t state, int32_t parent);
  // Adds to `out` the stacks a stack whose top just entered `state` opens: itself when
  // the state consumes bytes, the callees' starts for its calls, and what follows a
  // completed rule (the frame below, or the end of output at the bottom).
  void expand(int32_t state, int32_t parent, std::vector<int32_t>& out, bool& end);
  // Whether the stack whose top just entered `state` (below it: `local` frames, top last,
  // then node `base`) can consume `bytes`.
  bool can_consume(int32_t state, int32_t base, std::vector<int32_t>& local, std::string_view bytes) const;

  std::shared_ptr<const CompiledGrammar> grammar_;
  const Automaton* automaton_;
  std::vector<Node> nodes_;
  std::unordered_map<uint64_t, int32_t> node_ids_;
  std::vector<int32_t> tops_;  // the open stacks
  bool can_end_ = false;
  std::vector<int32_t> scratch_tops_, next_tops_, local_;
};

}  // namespace tern::grammar
