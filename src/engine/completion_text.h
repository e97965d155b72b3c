// The text of one completion as it streams: incremental detokenization (valid UTF-8 only)
// and stop strings. Text that could be the start of a stop string is held back until it
// is decided; what follows a matched stop string is never emitted, nor the stop string
// itself unless include_stop_string.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "tokenizer/incremental_detokenizer.h"

namespace tern {

class CompletionText {
 public:
  // `stop_strings` must outlive this object (they live in the request's params).
  CompletionText(std::shared_ptr<const Tokenizer> tokenizer, bool skip_special_tokens,
                 std::span<const std::string> stop_strings, bool include_stop_string = false);

  // The text that `token_id` makes safe to emit. With `may_stop` (min_tokens reached) a
  // stop string completed by it ends the text: stopped() turns true and only the text
  // before the match is returned.
  std::string push(int32_t token_id, bool may_stop);
  // Everything still held back, when the completion ends for another reason.
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  // Emits the part of pending_ that no stop string can start in.
  std::string take_decided();

  IncrementalDetokenizer detokenizer_;
  std::span<const std::string> stop_strings_;
  std::string pending_;
  bool include_stop_string_;
  bool stopped_ = false;
};

}  // namespace tern
