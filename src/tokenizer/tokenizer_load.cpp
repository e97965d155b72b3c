// Tokenizer::load: reads tokenizer.json and tokenizer_config.json into BpeTokenizerParts.
#include <filesystem>
#include <unordered_set>

#include "base/echo.h"
#include "base/error.h"
#include "base/regular_file.h"
#include "tokenizer/bpe_tokenizer.h"

namespace tern {
namespace {

// A token's text for an error line: quoted, and cut (on a character boundary) when long,
// so a 1 MB added token does not become a 1 MB log line.
std::string quoted(std::string_view text) {
  constexpr size_t kMaxShown = 80;
  std::string out = "\"" + echo(text, kMaxShown) + "\"";
  if (text.size() > kMaxShown) out += " (" + std::to_string(text.size()) + " bytes)";
  return out;
}

// Added tokens get the ids HF's AddedVocabulary assigns when it reads the file: the
// vocabulary id for a token the model already has, otherwise the next id after the
// vocabulary and the previous added tokens. A file whose ids disagree is rejected rather
// than silently renumbered.
std::vector<AddedToken> read_added_tokens(const std::optional<JsonNode>& list, const BpeModel& model) {
  std::vector<AddedToken> tokens;
  if (!list) return tokens;
  std::unordered_set<std::string> contents;
  std::optional<int32_t> max_id;
  for (size_t i = 0; i < list->size(); ++i) {
    const JsonNode node = list->element(i);
    AddedToken token;
    token.content = node.required("content").as_string();
    token.single_word = node.boolean("single_word").value_or(false);
    token.lstrip = node.boolean("lstrip").value_or(false);
    token.rstrip = node.boolean("rstrip").value_or(false);
    token.special = node.boolean("special").value_or(false);
    token.normalized = node.boolean("normalized").value_or(!token.special);
    if (token.content.empty()) node.required("content").fail("empty added token");
    if (!contents.insert(token.content).second)
      node.required("content").fail("duplicate added token ", quoted(token.content));

    int32_t expected = model.size();
    if (auto in_vocab = model.token_to_id(token.content)) {
      expected = *in_vocab;
    } else if (max_id && *max_id >= model.size()) {
      expected = *max_id + 1;
    }
    const int64_t id = node.required("id").as_integer();
    if (id != expected) {
      node.required("id").fail(id, " for ", quoted(token.content), ", but Hugging Face tokenizers assigns ", expected,
                               " (added tokens follow the vocabulary in order)");
    }
    token.id = expected;
    max_id = std::max(max_id.value_or(expected), expected);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

void check_decoder(const std::optional<JsonNode>& decoder) {
  if (!decoder) return;
  const std::string type = decoder->required("type").as_string();
  if (type == "ByteLevel") return;
  if (type == "Sequence") {
    const JsonNode list = decoder->required("decoders");
    for (size_t i = 0; i < list.size(); ++i) check_decoder(list.element(i));
    return;
  }
  decoder->required("type").fail("unsupported decoder \"", type, "\" (only the ByteLevel decoder is supported)");
}

// tokenizer_config.json names tokens as a string or as {"content": ...}.
std::optional<std::string> config_token(const JsonNode& config, std::string_view key) {
  if (!config.has(key)) return std::nullopt;
  const JsonNode node = config.required(key);
  return node.value().is_object() ? node.required("content").as_string() : node.as_string();
}

// A string, or a list of {"name", "template"} of which the one named "default" is used.
std::string config_chat_template(const JsonNode& config) {
  if (!config.has("chat_template")) return "";
  const JsonNode node = config.required("chat_template");
  if (node.value().is_string()) return node.as_string();
  for (size_t i = 0; i < node.size(); ++i) {
    const JsonNode entry = node.element(i);
    if (entry.required("name").as_string() == "default") return entry.required("template").as_string();
  }
  return "";
}

}  // namespace

std::shared_ptr<const Tokenizer> Tokenizer::load(const std::string& model_dir) {
  const std::filesystem::path dir(model_dir);
  const JsonNode root = load_json_node((dir / "tokenizer.json").string(), kMaxTokenizerJsonBytes);
  BpeTokenizerParts parts;
  parts.model = BpeModel::from_json(root.required("model"));
  parts.normalizer = Normalizer::from_json(root.field("normalizer"));
  parts.pre_tokenizer = PreTokenizer::from_json(root.required("pre_tokenizer"));
  parts.added_tokens = read_added_tokens(root.field("added_tokens"), *parts.model);
  parts.post_processor = PostProcessor::from_json(root.field("post_processor"));
  check_decoder(root.field("decoder"));

  int32_t vocab_size = parts.model->size();
  for (const AddedToken& token : parts.added_tokens) vocab_size = std::max(vocab_size, token.id + 1);
  for (const auto* ids : {&parts.post_processor.prefix(), &parts.post_processor.suffix()}) {
    for (int32_t id : *ids) {
      if (id >= vocab_size)
        root.required("post_processor").fail("token id ", id, " is not below the vocabulary size ", vocab_size);
    }
  }

  const std::filesystem::path config_path = dir / "tokenizer_config.json";
  if (std::filesystem::exists(config_path)) {
    const JsonNode config = load_json_node(config_path.string(), kMaxTokenizerConfigBytes);
    auto lookup = [&](std::string_view key) -> std::optional<int32_t> {
      const std::optional<std::string> token = config_token(config, key);
      if (!token) return std::nullopt;
      for (const AddedToken& added : parts.added_tokens) {
        if (added.content == *token) return added.id;
      }
      if (auto id = parts.model->token_to_id(*token)) return id;
      config.required(key).fail("token \"", *token, "\" is not in tokenizer.json");
    };
    parts.bos_token_id = lookup("bos_token");
    parts.eos_token_id = lookup("eos_token");
    parts.chat_template = config_chat_template(config);
  }
  // Newer transformers save the template in its own file, which then takes precedence.
  const std::filesystem::path template_path = dir / "chat_template.jinja";
  if (std::filesystem::exists(template_path)) {
    parts.chat_template = read_regular_file(template_path.string(), kMaxChatTemplateBytes);
  }
  return std::make_shared<const BpeTokenizer>(std::move(parts));
}

}  // namespace tern
