// The request fields chat and completions share: sampling, stopping, n, logprobs,
// streaming, priority, the model name and max_tokens, with the context-length rule.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "server/api_error.h"
#include "server/json_fields.h"
#include "server/served_model.h"
#include "server/valid_request.h"

namespace tern::server {

struct MaxTokensField {
  std::optional<int64_t> value;  // as given (may exceed int32: the context check reports it)
  std::string param = "max_tokens";
};

// 404 model_not_found unless "model" is absent or one of the served model's names.
void check_model_field(const JsonFields& body, const ServedModel& model);

// The 404 model_not_found for a model name the server does not serve, listing its names.
ApiError model_not_found(const ServedModel& model);

// Reads every shared field into `request` (not the prompt) and returns max_tokens as
// given. Throws ApiError 400 naming the field; unsupported features (response_format
// other than text, best_of, beam search, logit_bias, echo, suffix) are 400s too.
MaxTokensField read_shared_fields(const JsonFields& body, const ServedModel& model, ValidRequest& request);

// Sets each prompt's max_tokens: the given value, else (chat) the rest of the context or
// (completions, OpenAI's default) min(16, the rest). A prompt that fills the context, or
// prompt + max_tokens beyond it, is a 400 context_length_exceeded in OpenAI's words.
// `prompt_param` is "messages" or "prompt".
void resolve_max_tokens(ValidRequest& request, const MaxTokensField& max_tokens, int32_t max_model_len,
                        const std::string& prompt_param);

}  // namespace tern::server
