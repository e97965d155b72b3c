// Prompt lookup (n-gram speculation): the draft for a sequence is what followed the most
// recent earlier occurrence of its last n tokens in its own prompt and output. No model
// runs; it pays when outputs repeat their input (code edits, quoting, summaries, JSON
// filled from a document). As vLLM's `ngram` method: the longest n in [min_n, max_n]
// with a match wins, and among matches of that n the latest.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tern {

struct NgramConfig {
  int32_t min_n = 2;  // shortest suffix matched; 1 matches often and guesses poorly
  int32_t max_n = 4;  // longest suffix tried first
};

// Appends to `draft` up to `max_tokens` tokens that followed the match (fewer when the
// match is near the end of `tokens`, none without a match).
void propose_ngram(std::span<const int32_t> tokens, const NgramConfig& config, int32_t max_tokens,
                   std::vector<int32_t>& draft);

}  // namespace tern
