#include "model/perplexity.h"

#include <algorithm>

#include "base/error.h"

namespace tern {

double token_nll(const float* logits, int64_t vocab, int32_t target) {
  double max = logits[0];
  for (int64_t v = 1; v < vocab; ++v) max = std::max(max, double(logits[v]));
  double sum = 0;
  for (int64_t v = 0; v < vocab; ++v) sum += std::exp(double(logits[v]) - max);
  return max + std::log(sum) - double(logits[target]);
}

NllSum document_nll(SequenceLogits& evaluator, std::span<const int32_t> ids, int64_t first_scored,
                    const PerplexityWindow& window, const std::function<void(const NllSum&)>& on_window) {
  if (window.context < 2 || window.context > evaluator.max_tokens())
    throw error("perplexity: context ", window.context, " must be between 2 and ", evaluator.max_tokens());
  if (window.stride < 1 || window.stride > window.context)
    throw error("perplexity: stride ", window.stride, " must be between 1 and the context ", window.context);
  const int64_t n = int64_t(ids.size()), vocab = evaluator.vocab_size();
  for (int64_t i = 0; i < n; ++i)
    if (ids[size_t(i)] < 0 || ids[size_t(i)] >= vocab)
      throw error("perplexity: token id ", ids[size_t(i)], " at position ", i, " is outside the model's vocabulary of ",
                  vocab);
  first_scored = std::max<int64_t>(first_scored, 1);
  NllSum sum;
  int64_t prev_end = 0;
  for (int64_t begin = 0; prev_end < n; begin += window.stride) {
    const int64_t end = std::min(begin + window.context, n);
    const int64_t lo = std::max({prev_end, begin + 1, first_scored});  // tokens [lo, end) are scored here
    prev_end = end;
    if (lo >= end) continue;
    // Position p of the window predicts token p + 1, so the last token is not an input.
    evaluator.run(ids.subspan(size_t(begin), size_t(end - 1 - begin)),
                  [&](int64_t first, const float* logits, int64_t rows) {
                    for (int64_t r = 0; r < rows; ++r) {
                      const int64_t target = begin + first + r + 1;
                      if (target < lo) continue;
                      sum.nll += token_nll(logits + r * vocab, vocab, ids[size_t(target)]);
                      ++sum.tokens;
                    }
                  });
    if (on_window) on_window(sum);
  }
  return sum;
}

}  // namespace tern
