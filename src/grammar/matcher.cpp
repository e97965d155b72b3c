#include "grammar/matcher.h"

#include <algorithm>
#include <cstring>

namespace tern::grammar {

Matcher::Matcher(std::shared_ptr<const CompiledGrammar> grammar)
    : grammar_(std::move(grammar)), automaton_(&grammar_->automaton()) {
  can_end_ = automaton_->root_nullable();
  bool end = false;
  expand(automaton_->rule_start(0), -1, tops_, end);
  can_end_ = can_end_ || end;
}

int32_t Matcher::intern(int32_t state, int32_t parent) {
  const uint64_t key = (uint64_t(uint32_t(state)) << 32) | uint32_t(parent);
  const auto [it, added] = node_ids_.emplace(key, int32_t(nodes_.size()));
  if (added) nodes_.push_back({state, parent});
  return it->second;
}

void Matcher::expand(int32_t state, int32_t parent, std::vector<int32_t>& out, bool& end) {
  if (automaton_->has_byte_edges(state)) {
    const int32_t node = intern(state, parent);
    if (std::find(out.begin(), out.end(), node) == out.end()) out.push_back(node);
  }
  for (const Automaton::Call& call : automaton_->calls(state)) {
    expand(automaton_->rule_start(call.rule), intern(call.return_state, parent), out, end);
  }
  if (automaton_->accepting(state)) {
    if (parent < 0) {
      end = true;
    } else {
      const Node below = nodes_[size_t(parent)];
      expand(below.state, below.parent, out, end);
    }
  }
}

bool Matcher::accept_token(int32_t token) {
  const Vocabulary& vocab = grammar_->vocabulary();
  if (token < 0 || token >= vocab.size() || !vocab.matchable(token)) return false;
  return accept_bytes(vocab.bytes(token));
}

bool Matcher::accept_bytes(std::string_view bytes) {
  if (bytes.empty()) return false;
  scratch_tops_ = tops_;
  bool end = false;
  for (size_t i = 0; i < bytes.size(); ++i) {
    next_tops_.clear();
    end = false;
    for (int32_t node : scratch_tops_) {
      const Node n = nodes_[size_t(node)];
      const int32_t next = automaton_->next(n.state, uint8_t(bytes[i]));
      if (next >= 0) expand(next, n.parent, next_tops_, end);
    }
    // The end of output is a way on only after the last byte.
    if (next_tops_.empty() && !(end && i + 1 == bytes.size())) return false;
    scratch_tops_.swap(next_tops_);
  }
  tops_.swap(scratch_tops_);
  can_end_ = end;
  return true;
}

bool Matcher::can_consume(int32_t state, int32_t base, std::vector<int32_t>& local, std::string_view bytes) const {
  if (bytes.empty()) return true;
  if (automaton_->has_byte_edges(state)) {
    const int32_t next = automaton_->next(state, uint8_t(bytes[0]));
    if (next >= 0 && can_consume(next, base, local, bytes.substr(1))) return true;
  }
  for (const Automaton::Call& call : automaton_->calls(state)) {
    local.push_back(call.return_state);
    const bool ok = can_consume(automaton_->rule_start(call.rule), base, local, bytes);
    local.pop_back();
    if (ok) return true;
  }
  if (!automaton_->accepting(state)) return false;
  if (!local.empty()) {
    const int32_t below = local.back();
    local.pop_back();
    const bool ok = can_consume(below, base, local, bytes);
    local.push_back(below);
    return ok;
  }
  if (base < 0) return false;  // the output is complete; nothing may follow
  const Node below = nodes_[size_t(base)];
  return can_consume(below.state, below.parent, local, bytes);
}

void Matcher::fill_mask(std::span<uint32_t> words) {
  std::memset(words.data(), 0, words.size_bytes());
  for (int32_t node : tops_) {
    const Node n = nodes_[size_t(node)];
    const NodeMask& mask = grammar_->node_mask(n.state);
    mask.add_accepted(words);
    if (mask.uncertain().empty()) continue;
    if (n.parent < 0) continue;  // completing the root: only end-of-output may follow
    const Node below = nodes_[size_t(n.parent)];
    for (const SuffixGroup& group : mask.uncertain()) {
      local_.clear();
      if (!can_consume(below.state, below.parent, local_, group.suffix)) continue;
      for (int32_t token : group.tokens) words[size_t(token) >> 5] |= 1u << (token & 31);
    }
  }
}

}  // namespace tern::grammar
