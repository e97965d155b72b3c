// libFuzzer target: the tiny model's tokenizer on arbitrary bytes. encode() gives ids in
// the vocabulary; decode() of them gives valid UTF-8; the incremental detokenizer's
// pieces add up to decode() and are each valid UTF-8; decoding arbitrary ids (taken from
// the input) never reads out of bounds.
#include <cstdint>
#include <cstring>

#include "base/utf8.h"
#include "fuzz_support.h"
#include "tokenizer/incremental_detokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::shared_ptr<const tern::Tokenizer>& tokenizer = tern::fuzz::tiny_tokenizer();
  const std::string_view text = tern::fuzz::as_text(data, size);
  for (bool add_special : {false, true}) {
    const std::vector<int32_t> ids = tokenizer->encode(text, add_special);
    for (int32_t id : ids) {
      if (id < 0 || id >= tokenizer->vocab_size()) __builtin_trap();
    }
    const std::string decoded = tokenizer->decode(ids, /*skip_special_tokens=*/false);
    if (!tern::utf8::is_valid(decoded)) __builtin_trap();
  }
  // The input as raw ids (any int32, in or out of the vocabulary).
  std::vector<int32_t> raw(size / 4);
  if (!raw.empty()) std::memcpy(raw.data(), data, raw.size() * 4);
  for (bool skip : {false, true}) {
    const std::string whole = tokenizer->decode(raw, skip);
    tern::IncrementalDetokenizer detokenizer(tokenizer, skip);
    std::string pieces;
    for (int32_t id : raw) {
      const std::string piece = detokenizer.push(id);
      if (!tern::utf8::is_valid(piece)) __builtin_trap();
      pieces += piece;
    }
    pieces += detokenizer.flush();
    if (pieces != whole) __builtin_trap();
  }
  return 0;
}
