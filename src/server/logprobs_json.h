// Token log-probabilities in OpenAI's two shapes. Token strings are each token decoded
// on its own (a piece of a multi-byte character reads as U+FFFD; "bytes" has the exact
// bytes); -inf log-probabilities become -9999 (JSON has no infinity).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/request_output.h"
#include "server/json_body.h"
#include "tokenizer/tokenizer.h"

namespace tern::server {

// Chat: [{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}].
Json chat_logprobs(const std::vector<TokenLogprob>& logprobs, const Tokenizer& tokenizer);

// Completions: {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}],
// "text_offset"}. `text_offset` is the choice's text length before these tokens; it
// advances by each token's decoded length.
Json completion_logprobs(const std::vector<TokenLogprob>& logprobs, const Tokenizer& tokenizer, int64_t& text_offset);

}  // namespace tern::server
