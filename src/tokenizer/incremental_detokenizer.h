// Streaming detokenization: turns generated ids into text deltas that are always valid
// UTF-8. Bytes of a character split across tokens are held back until it completes.
// Invariant: the concatenation of every push() and the final flush() equals
// tokenizer.decode(all ids, skip_special_tokens).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tokenizer/tokenizer.h"

namespace tern {

class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(std::shared_ptr<const Tokenizer> tokenizer, bool skip_special_tokens);

  // The text completed by `id` (possibly empty). Unknown ids add nothing.
  std::string push(int32_t id);
  // Whatever is still held back, as lossy UTF-8 (U+FFFD for an unfinished character);
  // call once at the end of the stream.
  std::string flush();

 private:
  std::shared_ptr<const Tokenizer> tokenizer_;
  bool skip_special_tokens_;
  std::string pending_;  // at most 3 bytes: the start of an unfinished character
};

}  // namespace tern
