// tokenizer.json "normalizer": null, NFC / NFD / NFKC / NFKD, or a "Sequence" of them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/json_node.h"

namespace tern {

class Normalizer {
 public:
  // `node` is the "normalizer" field or absent (no normalisation). Throws tern::Error
  // naming the field for any other type.
  static Normalizer from_json(const std::optional<JsonNode>& node);

  bool is_identity() const { return forms_.empty(); }
  // The normalised `text` (valid UTF-8): `text` itself when normalisation changes
  // nothing, else a view of `storage`, which receives the result.
  std::string_view apply(std::string_view text, std::string& storage) const;
  std::string apply(std::string_view text) const;

 private:
  static void append_forms(const JsonNode& node, std::vector<int>& forms);
  std::vector<int> forms_;  // utf8proc option sets, applied in order
};

}  // namespace tern
