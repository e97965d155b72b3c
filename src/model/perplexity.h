// Perplexity of token sequences, teacher-forced, with the sliding windows of Hugging
// Face's perplexity recipe (transformers docs, "Perplexity of fixed-length models"):
// windows of `context` tokens start every `stride` tokens, and each token is scored once,
// in the first window that ends after it, given the part of its prefix inside that window.
// stride == context gives disjoint windows (fastest, least context per token; the first
// token of each window has no prefix in it and is not scored, as in the recipe); a
// smaller stride gives every token at least context - stride tokens of prefix.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <span>

#include "model/sequence_logits.h"

namespace tern {

struct PerplexityWindow {
  int64_t context = 1024;  // tokens per window: 1 < context <= the evaluator's max_tokens
  int64_t stride = 512;    // 1 <= stride <= context
};

// A running total of negative log-likelihoods (natural log) over scored tokens.
struct NllSum {
  double nll = 0;
  int64_t tokens = 0;

  double mean() const { return tokens ? nll / double(tokens) : 0.0; }
  double perplexity() const { return std::exp(mean()); }
  NllSum& operator+=(const NllSum& o) {
    nll += o.nll;
    tokens += o.tokens;
    return *this;
  }
};

// -log softmax(logits)[target] of one row of `vocab` logits, in double precision.
double token_nll(const float* logits, int64_t vocab, int32_t target);

// The NLL of tokens [first_scored, ids.size()) of one document, each given its prefix as
// far back as its window reaches. first_scored is at least 1 (the first token has no
// prefix); a larger value scores only a continuation (a reply after its prompt). Windows
// that score nothing are not run; on_window, if set, gets the document's running total
// after each window that ran. Throws tern::Error for a bad window or id.
NllSum document_nll(SequenceLogits& evaluator, std::span<const int32_t> ids, int64_t first_scored,
                    const PerplexityWindow& window, const std::function<void(const NllSum&)>& on_window = {});

}  // namespace tern
