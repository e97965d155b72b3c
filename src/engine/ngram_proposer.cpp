#include "engine/ngram_proposer.h"

#include <algorithm>

namespace tern {

void propose_ngram(std::span<const int32_t> tokens, const NgramConfig& config, int32_t max_tokens,
                   std::vector<int32_t>& draft) {
  const int64_t size = int64_t(tokens.size());
  if (max_tokens <= 0) return;
  for (int64_t n = std::min<int64_t>(config.max_n, size - 1); n >= std::max(1, config.min_n); --n) {
    const std::span<const int32_t> suffix = tokens.last(size_t(n));
    // Latest first: the nearest context predicts best. A match must leave a token after
    // it, so it starts at most at size - n - 1.
    for (int64_t start = size - n - 1; start >= 0; --start) {
      if (!std::equal(suffix.begin(), suffix.end(), tokens.begin() + start)) continue;
      const int64_t from = start + n, to = std::min(size, from + max_tokens);
      draft.insert(draft.end(), tokens.begin() + from, tokens.begin() + to);
      return;
    }
  }
}

}  // namespace tern
