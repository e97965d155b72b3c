#include "grammar/node_masks.h"

#include <algorithm>
#include <bit>
#include <map>

namespace tern::grammar {

void NodeMask::add_accepted(std::span<uint32_t> words) const {
  if (!accepted_bits_.empty()) {
    for (size_t i = 0; i < accepted_bits_.size(); ++i) words[i] |= accepted_bits_[i];
    return;
  }
  for (int32_t id : accepted_ids_) words[size_t(id) >> 5] |= 1u << (id & 31);
}

bool NodeMask::accepts(int32_t token) const {
  if (!accepted_bits_.empty()) return (accepted_bits_[size_t(token) >> 5] >> (token & 31)) & 1u;
  return std::binary_search(accepted_ids_.begin(), accepted_ids_.end(), token);
}

size_t NodeMask::memory_bytes() const {
  size_t bytes = accepted_bits_.size() * 4 + accepted_ids_.size() * 4;
  for (const SuffixGroup& g : uncertain_) bytes += g.suffix.size() + g.tokens.size() * 4;
  return bytes;
}

NodeMaskBuilder::NodeMaskBuilder(const Automaton& automaton, const Vocabulary& vocabulary)
    : automaton_(automaton), vocabulary_(vocabulary), levels_(vocabulary.max_token_bytes() + 1) {}

void NodeMaskBuilder::add_unique(StackSet& to) {
  const int32_t len = int32_t(frames_.size());
  if (to.count == 0 && len == 1) {
    to.single = frames_[0];
    to.count = 1;
    return;
  }
  if (to.single >= 0) {
    if (len == 1 && frames_[0] == to.single) return;
    to.data = {1, to.single};
    to.single = -1;
  }
  size_t at = 0;
  for (int32_t i = 0; i < to.count; ++i) {
    const int32_t l = to.data[at];
    if (l == len && std::equal(frames_.begin(), frames_.end(), to.data.begin() + int64_t(at) + 1)) return;
    at += size_t(l) + 1;
  }
  to.data.push_back(len);
  to.data.insert(to.data.end(), frames_.begin(), frames_.end());
  ++to.count;
}

void NodeMaskBuilder::expand(StackSet& to, bool& exited) {
  const int32_t state = frames_.back();
  if (automaton_.has_byte_edges(state)) add_unique(to);
  for (const Automaton::Call& call : automaton_.calls(state)) {
    frames_.back() = call.return_state;
    frames_.push_back(automaton_.rule_start(call.rule));
    expand(to, exited);
    frames_.pop_back();
    frames_.back() = state;
  }
  if (automaton_.accepting(state)) {
    if (frames_.size() == 1) {
      exited = true;
    } else {
      frames_.pop_back();
      expand(to, exited);
      frames_.push_back(state);
    }
  }
}

bool NodeMaskBuilder::advance(const StackSet& from, uint8_t byte, StackSet& to) {
  to.clear();
  bool exited = false;
  if (from.single >= 0) {
    const int32_t next = automaton_.next(from.single, byte);
    if (next < 0) return false;
    if (automaton_.only_consumes(next)) {  // the common case: no calls, no returns
      to.single = next;
      to.count = 1;
      return false;
    }
    frames_.assign(1, next);
    expand(to, exited);
    return exited;
  }
  size_t at = 0;
  for (int32_t i = 0; i < from.count; ++i) {
    const int32_t len = from.data[at];
    const int32_t next = automaton_.next(from.data[at + size_t(len)], byte);
    if (next >= 0) {
      frames_.assign(from.data.begin() + int64_t(at) + 1, from.data.begin() + int64_t(at) + 1 + len);
      frames_.back() = next;
      expand(to, exited);
    }
    at += size_t(len) + 1;
  }
  return exited;
}

NodeMask NodeMaskBuilder::build(int32_t state) {
  const std::vector<Vocabulary::TrieNode>& trie = vocabulary_.trie();
  const std::vector<int32_t>& trie_tokens = vocabulary_.trie_token_ids();
  const int32_t rule = automaton_.rule_of(state);
  std::vector<uint32_t>& accepted = accepted_scratch_;
  accepted.assign(size_t(vocabulary_.mask_words()), 0);
  std::vector<std::pair<int32_t, int32_t>> uncertain;  // (token, bytes consumed before the rule completed)
  // Per depth: the one state of a one-frame walk (the common case, kept out of levels_),
  // kNone when no stack is left, or kSet when levels_[depth] holds the stacks.
  constexpr int32_t kNone = -2, kSet = -1;
  std::vector<int32_t>& single = single_scratch_;
  single.assign(levels_.size(), kNone);
  single[0] = state;
  std::vector<uint8_t> exited_at(levels_.size(), 0);
  // Offsets where the rule completed on the current path with a possible continuation:
  // pending.size() is pending_count[d] at depth d.
  std::vector<int32_t> pending;
  std::vector<int32_t> pending_count(levels_.size(), 0);
  const Vocabulary::TrieNode* nodes = trie.data();
  const size_t num_nodes = trie.size();
  for (size_t i = 0; i < num_nodes;) {
    const Vocabulary::TrieNode& node = nodes[i];
    const size_t d = node.depth;
    const int32_t from = single[d - 1];
    bool exited = false;
    if (from >= 0) {
      const int32_t next = automaton_.next(from, node.byte);
      if (next < 0) {
        single[d] = kNone;
      } else if (automaton_.only_consumes(next)) {
        single[d] = next;
      } else {
        StackSet one;
        one.single = from;
        one.count = 1;
        exited = advance(one, node.byte, levels_[d]);
        single[d] = levels_[d].count == 0 ? kNone : levels_[d].single >= 0 ? levels_[d].single : kSet;
      }
    } else if (from == kSet) {
      exited = advance(levels_[d - 1], node.byte, levels_[d]);
      single[d] = levels_[d].count == 0 ? kNone : levels_[d].single >= 0 ? levels_[d].single : kSet;
    } else {
      single[d] = kNone;
    }
    exited_at[d] = exited;
    const int32_t kept = pending_count[d - 1];
    pending.resize(size_t(kept));
    if (exited_at[d - 1] && automaton_.may_follow(rule, node.byte)) pending.push_back(int32_t(d - 1));
    pending_count[d] = int32_t(pending.size());
    const bool alive = single[d] != kNone || exited;
    if (!alive && pending.empty()) {
      i = size_t(node.subtree_end);
      continue;
    }
    for (int32_t t = node.token_begin; t < node.token_end; ++t) {
      const int32_t token = trie_tokens[size_t(t)];
      if (alive) {
        accepted[size_t(token) >> 5] |= 1u << (token & 31);
      } else {
        for (int32_t offset : pending) uncertain.emplace_back(token, offset);
      }
    }
    ++i;
  }

  NodeMask mask;
  for (uint32_t word : accepted) mask.num_accepted_ += size_t(std::popcount(word));
  // A list of ids costs a word per token: the bitmask is smaller beyond one token per word.
  if (mask.num_accepted_ > accepted.size()) {
    mask.accepted_bits_ = accepted;
  } else {
    mask.accepted_ids_.reserve(mask.num_accepted_);
    for (size_t w = 0; w < accepted.size(); ++w)
      for (uint32_t bits = accepted[w]; bits != 0; bits &= bits - 1)
        mask.accepted_ids_.push_back(int32_t(w * 32 + size_t(std::countr_zero(bits))));
  }
  std::map<std::string_view, std::vector<int32_t>> groups;
  for (const auto& [token, offset] : uncertain)
    groups[std::string_view(vocabulary_.bytes(token)).substr(size_t(offset))].push_back(token);
  for (auto& [suffix, tokens] : groups) {
    std::sort(tokens.begin(), tokens.end());
    tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
    mask.uncertain_.push_back({std::string(suffix), std::move(tokens)});
  }
  return mask;
}

}  // namespace tern::grammar
