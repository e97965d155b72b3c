// UTF-8 for the grammar compiler: code point ranges as sequences of byte ranges, so that a
// character class becomes a small byte automaton, and the encode / decode steps the text
// parsers (GBNF, regex, JSON schema) need.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/grammar.h"

namespace tern::grammar {

struct ByteRange {
  uint8_t lo = 0;
  uint8_t hi = 0;
};

// The encodings of the code points in `range` (no surrogates) as sequences of byte
// ranges: each sequence matches encodings of one length, and together they match exactly
// the encodings of the range, each once.
std::vector<std::vector<ByteRange>> utf8_sequences(CodepointRange range);

void append_utf8(char32_t cp, std::string& out);

// Decodes the code point at text[pos] and advances pos; returns false (pos unchanged) when
// the bytes there are not well-formed UTF-8.
bool decode_utf8(std::string_view text, size_t& pos, char32_t& cp);

}  // namespace tern::grammar
