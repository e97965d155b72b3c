#include "tokenizer/byte_level.h"

#include <array>
#include <cstdint>

#include "base/utf8.h"

namespace tern::byte_level {
namespace {

// Printable Latin-1 bytes stand for themselves; the 68 others (controls, space, DEL,
// NBSP, soft hyphen) take the code points from U+0100 upwards, in byte order.
struct Tables {
  std::array<char32_t, 256> char_of_byte{};
  std::array<int16_t, 0x144> byte_of_char{};  // -1 where the code point is not in the alphabet

  Tables() {
    byte_of_char.fill(-1);
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      char_of_byte[b] = printable ? static_cast<char32_t>(b) : next++;
      byte_of_char[char_of_byte[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

char32_t byte_to_char(uint8_t byte) { return tables().char_of_byte[byte]; }

std::string encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) utf8::append(byte_to_char(static_cast<uint8_t>(c)), out);
  return out;
}

std::optional<std::string> decode(std::string_view token) {
  const Tables& t = tables();
  std::string out;
  out.reserve(token.size());
  size_t pos = 0;
  while (pos < token.size()) {
    const char32_t cp = utf8::decode_at(token, pos);
    if (cp >= t.byte_of_char.size() || t.byte_of_char[cp] < 0) return std::nullopt;
    out.push_back(static_cast<char>(t.byte_of_char[cp]));
  }
  return out;
}

std::string decode_token(std::string_view token) {
  std::optional<std::string> bytes = decode(token);
  return bytes ? std::move(*bytes) : std::string(token);
}

}  // namespace tern::byte_level
