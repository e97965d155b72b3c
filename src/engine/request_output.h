// What a caller receives for a request: a stream of deltas, one per completion per step,
// ending with a delta marked `finished` that carries the usage counts and timestamps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/request.h"

namespace tern {

struct Usage {
  int32_t prompt_tokens = 0;
  int32_t cached_prompt_tokens = 0;  // prompt tokens found in the prefix cache
  int32_t generated_tokens = 0;      // over all n completions, stop tokens included
};

struct RequestOutput {
  int32_t index = 0;                   // which of the request's n completions
  std::vector<int32_t> token_ids;      // new tokens (a stop token is here, but not in text)
  std::string text;                    // new text: valid UTF-8, stop strings and what follows removed
  std::vector<TokenLogprob> logprobs;  // one per new token when params.logprobs >= 0
  // params.prompt_logprobs >= 0: on each completion's first delta, entry i scores prompt
  // token i + 1 (top_logprobs has prompt_logprobs alternatives).
  std::vector<TokenLogprob> prompt_logprobs;
  std::optional<FinishReason> finish_reason;  // set on the completion's last delta
  std::string error;                          // with FinishReason::kError
  bool numerical_error = false;               // with kError: NaN/Inf logits, else a failed model step
  bool finished = false;                      // the request's last delta; usage and times are set
  Usage usage;
  RequestTimes times;
  // When the engine sampled this delta's tokens: the gaps between a completion's deltas
  // are its inter-token latencies.
  RequestTimes::Clock::time_point sampled_at;
};

}  // namespace tern
