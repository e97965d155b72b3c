#include "tokenizer/pre_tokenizer.h"

#include <cctype>
#include <string>

namespace tern {
namespace {

// A regex matching `literal` exactly: ASCII punctuation escaped, everything else as is.
std::string escape_literal(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !std::isalnum(u)) out += '\\';
    out += c;
  }
  return out;
}

std::shared_ptr<const Regex> split_regex(const JsonNode& split) {
  const std::string behavior = split.required("behavior").as_string();
  if (behavior != "Isolated") {
    split.required("behavior").fail("unsupported Split behavior \"", behavior, "\" (supported: Isolated)");
  }
  if (split.boolean("invert").value_or(false)) split.required("invert").fail("inverted Split is not supported");
  const JsonNode pattern = split.required("pattern");
  try {
    if (pattern.has("Regex")) return std::make_shared<const Regex>(pattern.required("Regex").as_string());
    if (pattern.has("String"))
      return std::make_shared<const Regex>(escape_literal(pattern.required("String").as_string()));
  } catch (const Error& e) {
    pattern.fail(e.what());
  }
  pattern.fail("expected {\"Regex\": ...} or {\"String\": ...}");
}

}  // namespace

PreTokenizer PreTokenizer::from_json(const JsonNode& node) {
  std::vector<JsonNode> stages;
  if (node.required("type").as_string() == "Sequence") {
    const JsonNode list = node.required("pretokenizers");
    for (size_t i = 0; i < list.size(); ++i) stages.push_back(list.element(i));
  } else {
    stages.push_back(node);
  }
  if (stages.empty()) node.fail("empty pre-tokenizer sequence: byte-level BPE needs a ByteLevel stage");
  PreTokenizer pre_tokenizer;
  for (size_t i = 0; i < stages.size(); ++i) {
    const JsonNode& stage = stages[i];
    const std::string type = stage.required("type").as_string();
    const bool last = i + 1 == stages.size();
    if (type == "Split" && !last) {
      pre_tokenizer.splits_.push_back(split_regex(stage));
    } else if (type == "ByteLevel" && last) {
      pre_tokenizer.add_prefix_space_ = stage.boolean("add_prefix_space").value_or(true);
      if (stage.boolean("use_regex").value_or(true))
        pre_tokenizer.gpt2_regex_ = std::make_shared<const Regex>(kGpt2Pattern);
    } else {
      stage.required("type").fail("unsupported pre-tokenizer \"", type,
                                  "\": only byte-level BPE is supported (Split stages followed by ByteLevel)");
    }
  }
  return pre_tokenizer;
}

void PreTokenizer::split(std::string_view text, const std::function<void(std::string_view)>& on_word) const {
  split_stage(0, text, on_word);
}

void PreTokenizer::split_stage(size_t stage, std::string_view text,
                               const std::function<void(std::string_view)>& on_word) const {
  if (text.empty()) return;
  if (stage == splits_.size()) {
    byte_level_stage(text, on_word);
    return;
  }
  // Isolated: every match and every gap between matches is a piece; empty ones vanish.
  size_t previous_end = 0;
  splits_[stage]->for_each_match(text, [&](size_t start, size_t end) {
    split_stage(stage + 1, text.substr(previous_end, start - previous_end), on_word);
    split_stage(stage + 1, text.substr(start, end - start), on_word);
    previous_end = end;
  });
  split_stage(stage + 1, text.substr(previous_end), on_word);
}

void PreTokenizer::byte_level_stage(std::string_view text, const std::function<void(std::string_view)>& on_word) const {
  std::string prefixed;
  if (add_prefix_space_ && text.front() != ' ') {
    prefixed = " " + std::string(text);
    text = prefixed;
  }
  if (!gpt2_regex_) {
    on_word(text);
    return;
  }
  size_t previous_end = 0;
  auto emit = [&](size_t start, size_t end) {
    if (end > start) on_word(text.substr(start, end - start));
  };
  gpt2_regex_->for_each_match(text, [&](size_t start, size_t end) {
    emit(previous_end, start);
    emit(start, end);
    previous_end = end;
  });
  emit(previous_end, text.size());
}

}  // namespace tern
