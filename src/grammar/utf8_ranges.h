// UTF-8 for the grammar compiler: code point ranges as sequences of byte ranges, so that a
// character class becomes a small byte automaton. (Encoding and decoding: base/utf8.h.)
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

}  // namespace tern::grammar
