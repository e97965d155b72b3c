#include "tokenizer/incremental_detokenizer.h"

#include "base/utf8.h"

namespace tern {

IncrementalDetokenizer::IncrementalDetokenizer(std::shared_ptr<const Tokenizer> tokenizer, bool skip_special_tokens)
    : tokenizer_(std::move(tokenizer)), skip_special_tokens_(skip_special_tokens) {}

// Lossy UTF-8 decides every byte before an unfinished trailing sequence independently of
// what follows, so emitting that part now and keeping the tail gives the same text as
// decoding everything at once.
std::string IncrementalDetokenizer::push(int32_t id) {
  pending_ += tokenizer_->token_bytes(id, skip_special_tokens_);
  const size_t held = utf8::incomplete_suffix_length(pending_);
  std::string text = utf8::to_valid_lossy(std::string_view(pending_).substr(0, pending_.size() - held));
  pending_.erase(0, pending_.size() - held);
  return text;
}

std::string IncrementalDetokenizer::flush() {
  std::string text = utf8::to_valid_lossy(pending_);
  pending_.clear();
  return text;
}

}  // namespace tern
