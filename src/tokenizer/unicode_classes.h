// Unicode character classes as Rust's regex crate defines them, which the HF tokenizers
// use to match added tokens' single_word / lstrip / rstrip (from utf8proc's tables).
#pragma once

namespace tern::unicode {

// `\s`: the White_Space property.
bool is_whitespace(char32_t cp);
// `\w`: alphabetic, marks, decimal digits, connector punctuation, join controls.
bool is_word_char(char32_t cp);

}  // namespace tern::unicode
