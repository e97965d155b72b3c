// UTF-8 as bytes: validation, decoding, encoding and lossy repair, with the exact
// semantics the HF tokenizers (Rust) rely on. The tokenizer, the Jinja lexer and the
// server's request bodies share this one validator. Unicode properties (what is a space
// or a word character) are the tokenizer's (tokenizer/unicode_classes.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tern::utf8 {

// Appends `bytes` to `out` as Rust's String::from_utf8_lossy does: every maximal invalid
// subsequence (Unicode "maximal subpart" practice) becomes one U+FFFD.
void append_lossy(std::string_view bytes, std::string& out);
std::string to_valid_lossy(std::string_view bytes);

// Length of the longest suffix of `bytes` that is an incomplete but still valid UTF-8
// sequence (one that more bytes could complete); 0 when the text ends on a boundary.
size_t incomplete_suffix_length(std::string_view bytes);

// Offset of the first byte that does not begin a complete, well-formed sequence (no
// overlong forms, surrogates or values past U+10FFFF), or npos when `bytes` is valid UTF-8.
size_t first_invalid(std::string_view bytes);
bool is_valid(std::string_view bytes);

// Decodes the code point at `pos` of valid UTF-8 and advances `pos` past it.
char32_t decode_at(std::string_view text, size_t& pos);
// The code point that ends at `end` (exclusive) of valid UTF-8; `end` > 0.
char32_t decode_before(std::string_view text, size_t end);
void append(char32_t cp, std::string& out);

}  // namespace tern::utf8
