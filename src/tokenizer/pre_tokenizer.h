// tokenizer.json "pre_tokenizer" for byte-level BPE: zero or more Split stages (Regex or
// String pattern, behavior "Isolated", invert false) followed by ByteLevel, either as a
// "Sequence" or a bare ByteLevel. Words come out as raw bytes: the byte-to-alphabet
// mapping of ByteLevel is left to the BPE model, which works on bytes directly.
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "tokenizer/json_node.h"
#include "tokenizer/regex.h"

namespace tern {

class PreTokenizer {
 public:
  // Throws tern::Error naming the field for unsupported types, behaviours or bad regexes.
  static PreTokenizer from_json(const JsonNode& node);

  // Calls on_word for every non-empty word of `text` (valid UTF-8), in order. The view is
  // valid only during the call.
  void split(std::string_view text, const std::function<void(std::string_view)>& on_word) const;

 private:
  void split_stage(size_t stage, std::string_view text, const std::function<void(std::string_view)>& on_word) const;
  void byte_level_stage(std::string_view text, const std::function<void(std::string_view)>& on_word) const;

  std::vector<std::shared_ptr<const Regex>> splits_;  // Split stages, applied in order
  bool add_prefix_space_ = false;
  std::shared_ptr<const Regex> gpt2_regex_;  // set when ByteLevel has use_regex
};

// The GPT-2 word regex ByteLevel applies when use_regex is true.
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace tern
