#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <unordered_set>

#include "base/utf8.h"
#include "tokenizer/byte_level.h"

namespace tern {

BpeTokenizer::BpeTokenizer(BpeTokenizerParts parts)
    : normalizer_(std::move(parts.normalizer)),
      pre_tokenizer_(std::move(parts.pre_tokenizer)),
      model_(std::move(parts.model)),
      added_(std::move(parts.added_tokens), normalizer_),
      post_processor_(std::move(parts.post_processor)),
      bos_token_id_(parts.bos_token_id),
      eos_token_id_(parts.eos_token_id),
      chat_template_(std::move(parts.chat_template)) {
  int32_t size = model_->size();
  for (const AddedToken& token : added_.tokens()) size = std::max(size, token.id + 1);
  decoded_.resize(size);
  known_.assign(size, 0);
  skip_special_.assign(size, 0);
  // HF decides "special" by the token's string, so a vocabulary token spelled like a
  // special added token is skipped too.
  std::unordered_set<std::string> special_contents;
  for (const AddedToken& token : added_.tokens()) {
    if (token.special) special_contents.insert(token.content);
  }
  for (int32_t id = 0; id < size; ++id) {
    const std::string token = id_to_token(id);
    known_[id] = id < model_->size() || added_.find(id) != nullptr;
    decoded_[id] = byte_level::decode_token(token);
    skip_special_[id] = special_contents.count(token) != 0;
  }
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  std::string sanitized;
  if (!utf8::is_valid(text)) {
    // Replacing bytes moves what follows: the ranges would no longer fit, so then every
    // special-token string is plain text (the safe reading of a range).
    sanitized = utf8::to_valid_lossy(text);
    text = sanitized;
  }
  const bool all_plain = options.split_special_tokens || (!sanitized.empty() && !options.plain_ranges.empty());
  const PlainSpecial raw_plain{.all = all_plain, .ranges = options.plain_ranges};
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (options.add_special_tokens) ids = post_processor_.prefix();
  auto encode_word = [&](std::string_view word) { model_->encode_word(word, ids, options.cancel); };
  std::vector<AddedVocabulary::Segment> raw_segments;
  std::vector<AddedVocabulary::Segment> normalized_segments;
  std::string normalized_storage;
  added_.split_raw(text, raw_segments, raw_plain);
  for (const AddedVocabulary::Segment& raw : raw_segments) {
    if (options.cancel) options.cancel->throw_if_cancelled();
    if (raw.id >= 0) {
      ids.push_back(raw.id);
      continue;
    }
    const std::string_view normalized = normalizer_.apply(raw.text, normalized_storage);
    normalized_segments.clear();
    // Normalising moves bytes, so ranges do not carry over: a piece that overlaps one has
    // all its normalized special tokens plain.
    const size_t offset = static_cast<size_t>(raw.text.data() - text.data());
    added_.split_normalized(
        normalized, normalized_segments,
        {.all = all_plain || AddedVocabulary::overlaps(options.plain_ranges, offset, offset + raw.text.size())});
    for (const AddedVocabulary::Segment& segment : normalized_segments) {
      if (segment.id >= 0) {
        ids.push_back(segment.id);
      } else {
        pre_tokenizer_.split(segment.text, encode_word);
      }
    }
  }
  if (options.add_special_tokens) {
    ids.insert(ids.end(), post_processor_.suffix().begin(), post_processor_.suffix().end());
  }
  return ids;
}

std::vector<TextRange> BpeTokenizer::find_special_tokens(std::string_view text) const {
  return added_.find_special(text);
}

const std::string* BpeTokenizer::decoded_or_null(int32_t id, bool skip_special) const {
  if (id < 0 || id >= vocab_size() || !known_[id]) return nullptr;
  if (skip_special && skip_special_[id]) return nullptr;
  return &decoded_[id];
}

std::string BpeTokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::string bytes;
  bytes.reserve(ids.size() * 4);
  for (int32_t id : ids) {
    if (const std::string* piece = decoded_or_null(id, skip_special_tokens)) bytes += *piece;
  }
  if (utf8::is_valid(bytes)) return bytes;
  return utf8::to_valid_lossy(bytes);
}

std::optional<int32_t> BpeTokenizer::token_to_id(std::string_view token) const {
  if (const AddedToken* added = added_.find(token)) return added->id;
  return model_->token_to_id(token);
}

std::string BpeTokenizer::id_to_token(int32_t id) const {
  if (const AddedToken* added = added_.find(id)) return added->content;
  if (id >= 0 && id < model_->size()) return model_->token(id);
  return "";
}

bool BpeTokenizer::is_special(int32_t id) const {
  const AddedToken* added = added_.find(id);
  return added != nullptr && added->special;
}

std::string BpeTokenizer::token_bytes(int32_t id, bool skip_special) const {
  const std::string* piece = decoded_or_null(id, skip_special);
  return piece ? *piece : std::string();
}

}  // namespace tern
