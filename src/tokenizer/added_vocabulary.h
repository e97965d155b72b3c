// tokenizer.json "added_tokens": tokens found in the text before BPE, as HF's
// AddedVocabulary finds them. Tokens with normalized == false match the raw text; those
// with normalized == true match the normalised text (their content normalised too).
// Matching is leftmost-longest; single_word drops a match inside a word, lstrip / rstrip
// make the token swallow the whitespace on its left / right.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/normalizer.h"
#include "tokenizer/tokenizer.h"

namespace tern {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

// Which special tokens a text spells count as plain text, not tokens: all of them, or those
// overlapping one of `ranges` (sorted, disjoint, in the split text's bytes).
struct PlainSpecial {
  bool all = false;
  std::span<const TextRange> ranges = {};
};

class AddedVocabulary {
 public:
  // A piece of the input: text to pre-tokenize (id < 0) or one added token.
  struct Segment {
    std::string_view text;
    int32_t id = -1;
  };

  AddedVocabulary() = default;
  // `tokens` hold distinct contents and ids.
  AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer& normalizer);

  // Splits raw input on the normalized == false tokens; empty text pieces are dropped.
  void split_raw(std::string_view text, std::vector<Segment>& out, const PlainSpecial& plain = {}) const {
    split(text, raw_, plain, out);
  }
  // Splits normalised text on the normalized == true tokens.
  void split_normalized(std::string_view text, std::vector<Segment>& out, const PlainSpecial& plain = {}) const {
    split(text, normalized_, plain, out);
  }
  // Every occurrence of a special token's content in `text`, leftmost-longest.
  std::vector<TextRange> find_special(std::string_view text) const;
  // Whether [begin, end) overlaps one of `ranges` (sorted, disjoint).
  static bool overlaps(std::span<const TextRange> ranges, size_t begin, size_t end);

  const AddedToken* find(int32_t id) const;
  const AddedToken* find(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  // Byte trie over token contents for leftmost-longest search.
  class Trie {
   public:
    void add(std::string_view pattern, int32_t token_index);
    // First (leftmost) match at or after `from`, the longest one there; false if none.
    bool find(std::string_view text, size_t from, size_t& start, size_t& end, int32_t& token_index) const;

   private:
    struct Node {
      std::vector<std::pair<uint8_t, int32_t>> children;
      int32_t token_index = -1;
    };
    int32_t child(int32_t node, uint8_t byte) const;
    std::vector<Node> nodes_{Node{}};
    bool first_byte_[256] = {};
  };

  void split(std::string_view text, const Trie& trie, const PlainSpecial& plain, std::vector<Segment>& out) const;

  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> index_by_id_;
  std::unordered_map<std::string, size_t> index_by_content_;
  Trie raw_;
  Trie normalized_;
  Trie special_;  // the contents of the special tokens, as written
};

}  // namespace tern
