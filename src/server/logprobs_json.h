// Token log-probabilities in OpenAI's two shapes. Token strings are each token decoded
// on its own (a piece of a multi-byte character reads as U+FFFD; "bytes" has the exact
// bytes); -inf log-probabilities become -9999 (JSON has no infinity).
#pragma once

#include <cstdint>
#include <span>
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

// Completions with echo: the prompt's tokens in the shape above, the first with null
// logprob and top_logprobs (nothing comes before it); scores[i] scores prompt token i + 1.
Json echo_logprobs(std::span<const int32_t> prompt, const std::vector<TokenLogprob>& scores, const Tokenizer& tokenizer,
                   int64_t& text_offset);

// vLLM's prompt_logprobs: null for the first prompt token, then for each one
// {"<id>": {"logprob", "rank", "decoded_token"}}, the prompt token and its alternatives.
Json vllm_prompt_logprobs(std::span<const int32_t> prompt, const std::vector<TokenLogprob>& scores,
                          const Tokenizer& tokenizer);

}  // namespace tern::server
