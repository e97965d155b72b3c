// Hugging Face byte-level BPE tokenizer from tokenizer.json + tokenizer_config.json.
// encode() gives exactly the ids of HF `tokenizer(text)` (special tokens written in the
// text are recognised); decode() equals HF's decode(ids, skip_special_tokens=...).
// Instances are immutable after load() and safe to use from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/cancel.h"

namespace tern {

// Bytes [begin, end) of a text.
struct TextRange {
  size_t begin = 0;
  size_t end = 0;
  bool operator==(const TextRange&) const = default;
};

struct EncodeOptions {
  // Add the post-processor's special tokens (e.g. Llama 3's <|begin_of_text|>; nothing for
  // Qwen2). Special-token strings written in the text are recognised either way.
  bool add_special_tokens = true;
  // Special-token strings written in the text are plain text (HF's split_special_tokens).
  bool split_special_tokens = false;
  // Sorted, disjoint ranges of the text in which special-token strings are plain text,
  // while the rest of the text keeps them special (message contents inside a rendered
  // chat). A special token that overlaps a range is plain text.
  std::span<const TextRange> plain_ranges = {};
  // Polled while encoding; encode() throws Cancelled once it is set.
  const CancelFlag* cancel = nullptr;
};

// Size limits of the tokenizer's files: several times the largest in use (Gemma 3's
// tokenizer.json is 33 MB; chat templates are tens of KB).
inline constexpr uint64_t kMaxTokenizerJsonBytes = uint64_t{256} << 20;
inline constexpr uint64_t kMaxTokenizerConfigBytes = uint64_t{64} << 20;
inline constexpr uint64_t kMaxChatTemplateBytes = uint64_t{4} << 20;

class Tokenizer {
 public:
  // Reads DIR/tokenizer.json and, when present, DIR/tokenizer_config.json and
  // DIR/chat_template.jinja, each a regular file under its size limit (below). Supports
  // byte-level BPE (GPT-2, Llama 3, Qwen2 families). Throws tern::Error naming the file
  // and field on malformed or unsupported input.
  static std::shared_ptr<const Tokenizer> load(const std::string& model_dir);
  virtual ~Tokenizer() = default;

  // Ids of `text`. With add_special_tokens, the post-processor's special tokens are added
  // (e.g. Llama 3's <|begin_of_text|>; nothing for Qwen2). Invalid UTF-8 in `text` is
  // first replaced by U+FFFD.
  virtual std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options) const = 0;
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const {
    return encode(text, EncodeOptions{.add_special_tokens = add_special_tokens});
  }
  // Where the strings of special tokens occur in `text` (leftmost-longest, not
  // overlapping), whether or not encode() would take them as tokens there.
  virtual std::vector<TextRange> find_special_tokens(std::string_view text) const = 0;
  // Text of `ids`; ids outside the vocabulary are skipped; bytes that do not form valid
  // UTF-8 become U+FFFD (as Rust's String::from_utf8_lossy).
  virtual std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const = 0;

  // Number of ids (base vocabulary plus added tokens): every valid id is below it.
  virtual int32_t vocab_size() const = 0;
  // Added tokens first, then the vocabulary (strings in the byte-level alphabet, "Ġhi").
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  // The token's string as stored (byte-level alphabet, or an added token's content); ""
  // if unknown.
  virtual std::string id_to_token(int32_t id) const = 0;
  // True for added tokens marked "special" (skipped by decode with skip_special_tokens).
  virtual bool is_special(int32_t id) const = 0;
  // The raw bytes a token decodes to, possibly an incomplete UTF-8 sequence; empty for an
  // unknown id, and for a special token when skip_special is true. decode(ids) is the
  // lossy UTF-8 of the concatenated token_bytes.
  virtual std::string token_bytes(int32_t id, bool skip_special) const = 0;

  // Special token ids named by tokenizer_config.json, and the chat template from
  // DIR/chat_template.jinja or else tokenizer_config.json (nullopt / empty when absent).
  virtual std::optional<int32_t> eos_token_id() const = 0;
  virtual std::optional<int32_t> bos_token_id() const = 0;
  virtual const std::string& chat_template() const = 0;
};

}  // namespace tern
