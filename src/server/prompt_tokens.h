// Request text to token ids. The tokenizer can fail on particular text (a pre-tokenizer
// regex from tokenizer.json hitting its match limit, E2); that fails this request with a
// 400 naming the field, not the server.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/json_fields.h"
#include "tokenizer/tokenizer.h"

namespace tern::server {

// What preparing a request needs besides its body and the model.
struct PrepareOptions {
  // --split-special-tokens-in-content: every chat request as if it sent
  // "split_special_tokens": true.
  bool split_special_tokens_in_content = false;
  // The request's; set when its client leaves (tokenization then throws Cancelled).
  const CancelFlag* cancel = nullptr;
};

// Throws a 400 naming `param` when the tokenizer refuses the text; Cancelled passes.
std::vector<int32_t> encode_prompt(const Tokenizer& tokenizer, std::string_view text, const EncodeOptions& options,
                                   const std::string& param);

// The request's "split_special_tokens" (false when absent): special-token strings in its
// prompt, or in its messages' contents, are plain text.
bool read_split_special_tokens(const JsonFields& body);

}  // namespace tern::server
