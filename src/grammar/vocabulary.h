// The tokenizer's vocabulary as the grammar engine sees it: the bytes each token stands
// for (possibly part of a UTF-8 character), and a byte trie over the tokens grammar text
// can be made of. Special tokens (eos, <|im_end|>), tokens without bytes and tokens longer
// than kMaxTokenBytes (real vocabularies stay far below: Qwen2.5's longest has 128) are
// never grammar text; the caller decides when end-of-output tokens may be sampled
// (Matcher::can_end). Immutable and shared by every grammar of a model.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tern::grammar {

class Vocabulary {
 public:
  static constexpr size_t kMaxTokenBytes = 1024;

  // token_bytes[id]: what token `id` decodes to; special[id]: a control token. The vectors
  // have one entry per id (the tokenizer's vocab_size()).
  Vocabulary(std::vector<std::string> token_bytes, std::vector<bool> special);

  int32_t size() const { return int32_t(bytes_.size()); }
  const std::string& bytes(int32_t id) const { return bytes_[size_t(id)]; }
  // A token that can be part of grammar text: not special, not empty, not too long.
  bool matchable(int32_t id) const { return matchable_[size_t(id)]; }
  // Words of a token bitmask over this vocabulary: ceil(size / 32).
  int32_t mask_words() const { return (size() + 31) / 32; }
  size_t max_token_bytes() const { return max_token_bytes_; }

  // The trie of matchable tokens, one node per distinct non-empty prefix, in depth-first
  // order with children in byte order. Node i consumes byte `byte` at depth `depth`
  // (1-based); its subtree is nodes i .. subtree_end - 1; the tokens whose bytes end there
  // are token_ids[token_begin .. token_end).
  struct TrieNode {
    uint8_t byte = 0;
    uint16_t depth = 0;
    int32_t subtree_end = 0;
    int32_t token_begin = 0;
    int32_t token_end = 0;
  };
  const std::vector<TrieNode>& trie() const { return trie_; }
  const std::vector<int32_t>& trie_token_ids() const { return trie_tokens_; }

 private:
  std::vector<std::string> bytes_;
  std::vector<bool> matchable_;
  size_t max_token_bytes_ = 0;
  std::vector<TrieNode> trie_;
  std::vector<int32_t> trie_tokens_;
};

}  // namespace tern::grammar
