// Hugging Face byte-level BPE tokenizer from tokenizer.json + tokenizer_config.json.
// encode() gives exactly the ids of HF `tokenizers` (special tokens written in the text
// are recognised); decode() equals HF's decode(ids, skip_special_tokens=...).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tern {

class Tokenizer {
 public:
  // Reads DIR/tokenizer.json and, when present, DIR/tokenizer_config.json. Throws
  // tern::Error naming the file and field on malformed input.
  static std::shared_ptr<const Tokenizer> load(const std::string& model_dir);
  virtual ~Tokenizer() = default;

  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  virtual std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const = 0;

  // Number of ids (base vocabulary plus added tokens): every valid id is below it.
  virtual int32_t vocab_size() const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  // The token's string as stored in the vocabulary (byte-level alphabet), "" if unknown.
  virtual std::string id_to_token(int32_t id) const = 0;
  virtual bool is_special(int32_t id) const = 0;
  // The raw bytes a token decodes to (for incremental detokenization); empty for a
  // special token when skip_special is true.
  virtual std::string token_bytes(int32_t id, bool skip_special) const = 0;

  // From tokenizer_config.json (empty / nullopt when absent).
  virtual std::optional<int32_t> eos_token_id() const = 0;
  virtual std::optional<int32_t> bos_token_id() const = 0;
  virtual const std::string& chat_template() const = 0;
};

}  // namespace tern
