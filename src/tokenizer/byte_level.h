// The GPT-2 byte-level alphabet: every byte maps to one printable code point, so that
// byte strings can live in a text vocabulary ("Ġ" is the space byte, "Ċ" the newline).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tern::byte_level {

// The code point that stands for `byte`.
char32_t byte_to_char(uint8_t byte);

// Maps raw bytes to their alphabet string (UTF-8): "a b" -> "aĠb".
std::string encode(std::string_view bytes);

// The bytes a vocabulary token stands for, or nullopt when the token holds a character
// outside the alphabet. `token` must be valid UTF-8.
std::optional<std::string> decode(std::string_view token);

// What HF's ByteLevel decoder makes of one token: its bytes, or, when the token holds a
// character outside the alphabet (e.g. an added token with a space), its UTF-8 as is.
std::string decode_token(std::string_view token);

}  // namespace tern::byte_level
