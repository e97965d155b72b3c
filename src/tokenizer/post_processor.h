// tokenizer.json "post_processor" for a single sequence: ByteLevel (adds nothing),
// TemplateProcessing (its "single" template: special tokens around $A), or a Sequence
// of those. Only what HF `tokenizer(text)` does for one text is kept: the ids to put
// before and after the encoded text.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "tokenizer/json_node.h"

namespace tern {

class PostProcessor {
 public:
  // Throws tern::Error naming the field for unsupported processors or templates.
  static PostProcessor from_json(const std::optional<JsonNode>& node);

  const std::vector<int32_t>& prefix() const { return prefix_; }
  const std::vector<int32_t>& suffix() const { return suffix_; }

 private:
  void append(const JsonNode& node);
  void append_template(const JsonNode& node);

  std::vector<int32_t> prefix_;
  std::vector<int32_t> suffix_;
};

}  // namespace tern
