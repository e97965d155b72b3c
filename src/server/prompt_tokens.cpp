#include "server/prompt_tokens.h"

#include "base/error.h"
#include "server/api_error.h"

namespace tern::server {

std::vector<int32_t> encode_prompt(const Tokenizer& tokenizer, std::string_view text, bool add_special_tokens,
                                   const std::string& param) {
  try {
    return tokenizer.encode(text, add_special_tokens);
  } catch (const Error& e) {
    throw invalid_param(param, std::string("the model's tokenizer cannot encode this text: ") + e.what());
  }
}

}  // namespace tern::server
