// The context-length rule, written once for the engine's admission check and the server's
// request validation, with its message in OpenAI's words (clients match on them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tern {

// Nullopt when the request fits in max_model_len, else why not. With `max_tokens` given,
// prompt + max_tokens must not exceed max_model_len (the sum saturates: max_tokens may be
// near 2^63); without it (the output takes the rest), the prompt must leave room for one
// token. `prompt_name` is how the message calls the prompt ("prompt" or "messages").
std::optional<std::string> context_length_error(int64_t num_prompt_tokens, std::optional<int64_t> max_tokens,
                                                int64_t max_model_len, std::string_view prompt_name = "prompt");

}  // namespace tern
