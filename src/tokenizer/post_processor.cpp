#include "tokenizer/post_processor.h"

#include <string>

namespace tern {

PostProcessor PostProcessor::from_json(const std::optional<JsonNode>& node) {
  PostProcessor processor;
  if (node) processor.append(*node);
  return processor;
}

void PostProcessor::append(const JsonNode& node) {
  const std::string type = node.required("type").as_string();
  if (type == "Sequence") {
    const JsonNode processors = node.required("processors");
    for (size_t i = 0; i < processors.size(); ++i) append(processors.element(i));
  } else if (type == "TemplateProcessing") {
    append_template(node);
  } else if (type != "ByteLevel") {
    node.required("type").fail("unsupported post-processor \"", type,
                               "\" (supported: ByteLevel, TemplateProcessing, Sequence)");
  }
}

void PostProcessor::append_template(const JsonNode& node) {
  if (!prefix_.empty() || !suffix_.empty()) node.fail("only one TemplateProcessing is supported");
  const JsonNode single = node.required("single");
  const JsonNode special_tokens = node.required("special_tokens");
  bool seen_sequence = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const JsonNode piece = single.element(i);
    if (piece.has("Sequence")) {
      const std::string id = piece.required("Sequence").required("id").as_string();
      if (id != "A" || seen_sequence) piece.fail("the single template must hold sequence A exactly once");
      seen_sequence = true;
    } else if (piece.has("SpecialToken")) {
      const std::string name = piece.required("SpecialToken").required("id").as_string();
      if (!special_tokens.has(name)) piece.fail("special token \"", name, "\" is not in special_tokens");
      const JsonNode ids = special_tokens.required(name).required("ids");
      std::vector<int32_t>& target = seen_sequence ? suffix_ : prefix_;
      for (size_t k = 0; k < ids.size(); ++k) {
        const int64_t id = ids.element(k).as_integer();
        if (id < 0 || id > INT32_MAX) ids.element(k).fail("invalid token id ", id);
        target.push_back(static_cast<int32_t>(id));
      }
    } else {
      piece.fail("expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
  }
  if (!seen_sequence) single.fail("the single template must hold sequence A");
}

}  // namespace tern
