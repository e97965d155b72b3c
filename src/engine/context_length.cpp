#include "engine/context_length.h"

#include <limits>

#include "base/error.h"

namespace tern {

std::optional<std::string> context_length_error(int64_t num_prompt_tokens, std::optional<int64_t> max_tokens,
                                                int64_t max_model_len, std::string_view prompt_name) {
  if (!max_tokens) {
    if (num_prompt_tokens < max_model_len) return std::nullopt;
    return detail::concat("This model's maximum context length is ", max_model_len, " tokens. However, your ",
                          prompt_name, " resulted in ", num_prompt_tokens, " tokens. Please reduce the length of the ",
                          prompt_name, ".");
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const int64_t total = *max_tokens > kMax - num_prompt_tokens ? kMax : num_prompt_tokens + *max_tokens;
  if (total <= max_model_len) return std::nullopt;
  return detail::concat("This model's maximum context length is ", max_model_len, " tokens. However, you requested ",
                        total, " tokens (", num_prompt_tokens, " in the ", prompt_name, ", ", *max_tokens,
                        " in the completion). Please reduce the length of the ", prompt_name, " or completion.");
}

}  // namespace tern
