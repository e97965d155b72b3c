#include "tokenizer/added_vocabulary.h"

#include <algorithm>

#include "base/utf8.h"
#include "tokenizer/unicode_classes.h"

namespace tern {

void AddedVocabulary::Trie::add(std::string_view pattern, int32_t token_index) {
  if (pattern.empty()) return;
  first_byte_[static_cast<uint8_t>(pattern[0])] = true;
  int32_t node = 0;
  for (char c : pattern) {
    const auto byte = static_cast<uint8_t>(c);
    int32_t next = child(node, byte);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_[node].children.emplace_back(byte, next);
      nodes_.emplace_back();
    }
    node = next;
  }
  nodes_[node].token_index = token_index;
}

int32_t AddedVocabulary::Trie::child(int32_t node, uint8_t byte) const {
  for (const auto& [b, next] : nodes_[node].children) {
    if (b == byte) return next;
  }
  return -1;
}

bool AddedVocabulary::Trie::find(std::string_view text, size_t from, size_t& start, size_t& end,
                                 int32_t& token_index) const {
  for (size_t s = from; s < text.size(); ++s) {
    if (!first_byte_[static_cast<uint8_t>(text[s])]) continue;
    int32_t node = 0;
    int32_t longest = -1;
    for (size_t i = s; i < text.size(); ++i) {
      node = child(node, static_cast<uint8_t>(text[i]));
      if (node < 0) break;
      if (nodes_[node].token_index >= 0) {
        longest = nodes_[node].token_index;
        end = i + 1;
      }
    }
    if (longest >= 0) {
      start = s;
      token_index = longest;
      return true;
    }
  }
  return false;
}

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer& normalizer)
    : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& token = tokens_[i];
    index_by_id_.emplace(token.id, i);
    index_by_content_.emplace(token.content, i);
    if (token.normalized) {
      normalized_.add(normalizer.apply(token.content), static_cast<int32_t>(i));
    } else {
      raw_.add(token.content, static_cast<int32_t>(i));
    }
    if (token.special) special_.add(token.content, static_cast<int32_t>(i));
  }
}

std::vector<TextRange> AddedVocabulary::find_special(std::string_view text) const {
  std::vector<TextRange> found;
  size_t start = 0, end = 0;
  int32_t index = -1;
  for (size_t from = 0; special_.find(text, from, start, end, index); from = end) found.push_back({start, end});
  return found;
}

bool AddedVocabulary::overlaps(std::span<const TextRange> ranges, size_t begin, size_t end) {
  // The first range ending after `begin` is the only one that can overlap first.
  const auto it = std::ranges::upper_bound(ranges, begin, {}, &TextRange::end);
  return it != ranges.end() && it->begin < end;
}

const AddedToken* AddedVocabulary::find(int32_t id) const {
  auto it = index_by_id_.find(id);
  return it == index_by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::find(std::string_view content) const {
  auto it = index_by_content_.find(std::string(content));
  return it == index_by_content_.end() ? nullptr : &tokens_[it->second];
}

// Mirrors HF AddedVocabulary::find_matches: the trie's matches are taken in order; the
// whitespace that lstrip / rstrip swallow never reaches the model.
void AddedVocabulary::split(std::string_view text, const Trie& trie, const PlainSpecial& plain,
                            std::vector<Segment>& out) const {
  auto push_text = [&](size_t from, size_t to) {
    if (to > from) out.push_back({text.substr(from, to - from), -1});
  };
  size_t emitted = 0;  // end of what has been pushed so far
  size_t search_from = 0;
  size_t match_start = 0;
  size_t match_end = 0;
  int32_t index = -1;
  while (trie.find(text, search_from, match_start, match_end, index)) {
    search_from = match_end;
    const AddedToken& token = tokens_[index];
    // Skipped whole, as HF skips it with split_special_tokens: no match starts inside it.
    if (token.special && (plain.all || overlaps(plain.ranges, match_start, match_end))) continue;
    size_t start = match_start;
    size_t end = match_end;
    if (token.single_word) {
      const bool word_before = start > 0 && unicode::is_word_char(utf8::decode_before(text, start));
      size_t after = end;
      const bool word_after = end < text.size() && unicode::is_word_char(utf8::decode_at(text, after));
      if (word_before || word_after) continue;
    }
    if (token.lstrip) {
      size_t stripped = start;
      while (stripped > 0 && unicode::is_whitespace(utf8::decode_before(text, stripped))) {
        size_t char_start = stripped - 1;
        while ((static_cast<uint8_t>(text[char_start]) & 0xC0) == 0x80) --char_start;
        stripped = char_start;
      }
      start = std::max(stripped, emitted);
    }
    if (token.rstrip) {
      size_t pos = end;
      while (pos < text.size()) {
        size_t next = pos;
        if (!unicode::is_whitespace(utf8::decode_at(text, next))) break;
        pos = next;
      }
      end = pos;
    }
    push_text(emitted, start);
    out.push_back({text.substr(start, end - start), token.id});
    emitted = end;
  }
  push_text(emitted, text.size());
}

}  // namespace tern
