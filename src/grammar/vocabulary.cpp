#include "grammar/vocabulary.h"

#include <algorithm>
#include <numeric>

#include "base/error.h"

namespace tern::grammar {

Vocabulary::Vocabulary(std::vector<std::string> token_bytes, std::vector<bool> special)
    : bytes_(std::move(token_bytes)) {
  TERN_CHECK(special.size() == bytes_.size(), "vocabulary: ", bytes_.size(), " tokens but ", special.size(),
             " special flags");
  matchable_.resize(bytes_.size());
  std::vector<int32_t> order;
  for (size_t id = 0; id < bytes_.size(); ++id) {
    matchable_[id] = !special[id] && !bytes_[id].empty() && bytes_[id].size() <= kMaxTokenBytes;
    if (!matchable_[id]) continue;
    order.push_back(int32_t(id));
    max_token_bytes_ = std::max(max_token_bytes_, bytes_[id].size());
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return bytes_[size_t(a)] < bytes_[size_t(b)] || (bytes_[size_t(a)] == bytes_[size_t(b)] && a < b);
  });
  // Tokens in byte order walk the trie depth first: each one shares a prefix with the one
  // before it and adds the nodes for the rest of its bytes.
  std::vector<int32_t> path;  // trie node at each depth of the previous token
  std::string_view previous;
  for (int32_t id : order) {
    const std::string_view b = bytes_[size_t(id)];
    size_t common = 0;
    while (common < previous.size() && common < b.size() && previous[common] == b[common]) ++common;
    while (path.size() > common) {
      trie_[size_t(path.back())].subtree_end = int32_t(trie_.size());
      path.pop_back();
    }
    for (size_t d = common; d < b.size(); ++d) {
      path.push_back(int32_t(trie_.size()));
      trie_.push_back(TrieNode{.byte = uint8_t(b[d]), .depth = uint16_t(d + 1)});
    }
    TrieNode& leaf = trie_[size_t(path.back())];
    if (leaf.token_end == 0) leaf.token_begin = int32_t(trie_tokens_.size());
    trie_tokens_.push_back(id);
    leaf.token_end = int32_t(trie_tokens_.size());
    previous = b;
  }
  while (!path.empty()) {
    trie_[size_t(path.back())].subtree_end = int32_t(trie_.size());
    path.pop_back();
  }
}

}  // namespace tern::grammar
