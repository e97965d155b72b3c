#include "server/prompt_tokens.h"

#include "base/error.h"
#include "server/api_error.h"

namespace tern::server {

std::vector<int32_t> encode_prompt(const Tokenizer& tokenizer, std::string_view text, const EncodeOptions& options,
                                   const std::string& param) {
  try {
    return tokenizer.encode(text, options);
  } catch (const Error& e) {
    throw invalid_param(param, std::string("the model's tokenizer cannot encode this text: ") + e.what());
  }
}

bool read_split_special_tokens(const JsonFields& body) { return body.boolean("split_special_tokens").value_or(false); }

}  // namespace tern::server
