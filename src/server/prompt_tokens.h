// Request text to token ids. The tokenizer can fail on particular text (a pre-tokenizer
// regex from tokenizer.json hitting its match limit, E2); that fails this request with a
// 400 naming the field, not the server.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace tern::server {

std::vector<int32_t> encode_prompt(const Tokenizer& tokenizer, std::string_view text, bool add_special_tokens,
                                   const std::string& param);

}  // namespace tern::server
