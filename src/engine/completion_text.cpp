#include "engine/completion_text.h"

#include <algorithm>

namespace tern {

CompletionText::CompletionText(std::shared_ptr<const Tokenizer> tokenizer, bool skip_special_tokens,
                               std::span<const std::string> stop_strings, bool include_stop_string)
    : detokenizer_(std::move(tokenizer), skip_special_tokens),
      stop_strings_(stop_strings),
      include_stop_string_(include_stop_string) {}

std::string CompletionText::push(int32_t token_id, bool may_stop) {
  if (stopped_) return {};
  pending_ += detokenizer_.push(token_id);
  if (may_stop) {
    size_t match = std::string::npos, match_len = 0;  // the earliest match, the longest there
    for (const std::string& stop : stop_strings_) {
      if (stop.empty()) continue;
      const size_t at = pending_.find(stop);
      if (at < match || (at == match && stop.size() > match_len)) match = at, match_len = stop.size();
    }
    if (match != std::string::npos) {
      stopped_ = true;
      std::string text = pending_.substr(0, match + (include_stop_string_ ? match_len : 0));
      pending_.clear();
      return text;
    }
  }
  return take_decided();
}

std::string CompletionText::take_decided() {
  // The longest suffix of pending_ that is a proper prefix of a stop string. Both are valid
  // UTF-8 and a stop string starts at a character, so the cut never splits a character.
  size_t held = 0;
  for (const std::string& stop : stop_strings_) {
    if (stop.empty()) continue;
    for (size_t len = std::min(stop.size() - 1, pending_.size()); len > held; --len) {
      if (std::string_view(pending_).ends_with(std::string_view(stop).substr(0, len))) {
        held = len;
        break;
      }
    }
  }
  std::string text = pending_.substr(0, pending_.size() - held);
  pending_.erase(0, pending_.size() - held);
  return text;
}

std::string CompletionText::flush() {
  if (stopped_) return {};
  std::string text = std::move(pending_);
  pending_.clear();
  return text + detokenizer_.flush();
}

}  // namespace tern
