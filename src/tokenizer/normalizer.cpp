#include "tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>

namespace tern {

Normalizer Normalizer::from_json(const std::optional<JsonNode>& node) {
  Normalizer normalizer;
  if (node) append_forms(*node, normalizer.forms_);
  return normalizer;
}

void Normalizer::append_forms(const JsonNode& node, std::vector<int>& forms) {
  const std::string type = node.field("type").as_string();
  if (type == "Sequence") {
    const JsonNode steps = node.field("normalizers");
    for (size_t i = 0; i < steps.size(); ++i) append_forms(steps.element(i), forms);
  } else if (type == "NFC") {
    forms.push_back(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  } else if (type == "NFD") {
    forms.push_back(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
  } else if (type == "NFKC") {
    forms.push_back(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  } else if (type == "NFKD") {
    forms.push_back(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  } else {
    node.field("type").fail("unsupported normalizer \"", type, "\" (supported: NFC, NFD, NFKC, NFKD, Sequence)");
  }
}

std::string Normalizer::apply(std::string_view text) const {
  std::string out(text);
  if (forms_.empty()) return out;
  bool ascii = true;
  for (char c : text) ascii &= static_cast<unsigned char>(c) < 0x80;
  if (ascii) return out;  // every normal form leaves ASCII unchanged
  for (int form : forms_) {
    utf8proc_uint8_t* mapped = nullptr;
    const utf8proc_ssize_t length =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(out.data()), static_cast<utf8proc_ssize_t>(out.size()),
                     &mapped, static_cast<utf8proc_option_t>(form));
    if (length < 0) throw error("normalizer: ", utf8proc_errmsg(length));
    out.assign(reinterpret_cast<const char*>(mapped), static_cast<size_t>(length));
    std::free(mapped);
  }
  return out;
}

}  // namespace tern
