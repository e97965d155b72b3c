// The byte-level BPE Tokenizer: added-token split -> normaliser -> pre-tokenizer -> BPE
// -> post-processor, and the ByteLevel decoder. Built by Tokenizer::load().
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace tern {

struct BpeTokenizerParts {
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  std::unique_ptr<BpeModel> model;
  std::vector<AddedToken> added_tokens;  // ids checked against the model
  PostProcessor post_processor;
  std::optional<int32_t> bos_token_id;
  std::optional<int32_t> eos_token_id;
  std::string chat_template;
};

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(BpeTokenizerParts parts);

  using Tokenizer::encode;
  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options) const override;
  std::vector<TextRange> find_special_tokens(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(decoded_.size()); }
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int32_t id) const override;
  bool is_special(int32_t id) const override;
  std::string token_bytes(int32_t id, bool skip_special) const override;
  std::optional<int32_t> eos_token_id() const override { return eos_token_id_; }
  std::optional<int32_t> bos_token_id() const override { return bos_token_id_; }
  const std::string& chat_template() const override { return chat_template_; }

 private:
  // Bytes of `id` for decode, or nullptr when decode drops it (unknown, or skipped special).
  const std::string* decoded_or_null(int32_t id, bool skip_special) const;

  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  std::unique_ptr<BpeModel> model_;
  AddedVocabulary added_;
  PostProcessor post_processor_;
  std::vector<std::string> decoded_;   // id -> bytes of HF's ByteLevel decoder
  std::vector<uint8_t> known_;         // id -> 1 when the id has a token
  std::vector<uint8_t> skip_special_;  // id -> 1 when decode(skip_special_tokens) drops it
  std::optional<int32_t> bos_token_id_;
  std::optional<int32_t> eos_token_id_;
  std::string chat_template_;
};

}  // namespace tern
