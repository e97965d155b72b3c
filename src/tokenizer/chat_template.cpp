#include "tokenizer/chat_template.h"

#include <filesystem>

#include "base/error.h"
#include "base/regular_file.h"
#include "jinja/jinja_template.h"
#include "tokenizer/json_node.h"
#include "tokenizer/tokenizer.h"

namespace tern {
namespace {

jinja::Limits to_jinja(const ChatTemplateLimits& limits) {
  jinja::Limits out;
  out.max_steps = limits.max_steps;
  out.max_output_bytes = limits.max_output_bytes;
  out.max_memory_bytes = limits.max_memory_bytes;
  out.max_depth = limits.max_depth;
  return out;
}

// A special token in tokenizer_config.json: "<s>", {"content": "<s>", ...} or null.
std::optional<std::string> special_token(const nlohmann::json& config, const char* field, const std::string& file) {
  auto it = config.find(field);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string()) return content->get<std::string>();
  }
  throw tern::error(file, ": field '", field, "' must be a string or an object with a string \"content\"");
}

std::string template_from_config(const nlohmann::json& config, const std::string& file) {
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) throw tern::error(file, ": no chat_template (and no chat_template.jinja)");
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {
    std::string names;
    for (const auto& entry : *it) {
      if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") || !entry["name"].is_string() ||
          !entry["template"].is_string())
        throw tern::error(file, ": chat_template list entries must be {\"name\": string, \"template\": string}");
      if (entry["name"] == "default") return entry["template"].get<std::string>();
      names += (names.empty() ? "" : ", ") + entry["name"].get<std::string>();
    }
    throw tern::error(file, ": chat_template has no \"default\" entry (found: ", names, ")");
  }
  throw tern::error(file, ": chat_template must be a string or a list of named templates");
}

}  // namespace

ChatTemplate::ChatTemplate(std::string_view source, ChatSpecialTokens special_tokens, ChatTemplateLimits limits)
    : template_(std::make_unique<jinja::Template>(source)),
      special_tokens_(std::move(special_tokens)),
      limits_(limits) {}

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const ChatRenderRequest& request) const {
  if (!request.messages.is_array()) throw tern::error("chat template: messages must be a JSON array");
  if (!request.tools.is_null() && !request.tools.is_array())
    throw tern::error("chat template: tools must be a JSON array or null");
  if (!request.extra_variables.is_object()) throw tern::error("chat template: extra variables must be a JSON object");
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  context["messages"] = request.messages;
  context["tools"] = request.tools;
  context["documents"] = nullptr;
  context["add_generation_prompt"] = request.add_generation_prompt;
  if (special_tokens_.bos_token) context["bos_token"] = *special_tokens_.bos_token;
  if (special_tokens_.eos_token) context["eos_token"] = *special_tokens_.eos_token;
  for (const auto& [key, value] : request.extra_variables.items()) {
    if (key == "messages" || key == "tools" || key == "documents" || key == "add_generation_prompt")
      throw tern::error("chat template: extra variable '", key, "' would replace a standard variable");
    context[key] = value;
  }
  return render_context(context);
}

std::string ChatTemplate::render_context(const nlohmann::ordered_json& context) const {
  return template_->render(context, to_jinja(limits_));
}

ModelChatTemplate read_model_chat_template(const std::string& model_dir) {
  namespace fs = std::filesystem;
  ModelChatTemplate result;
  fs::path config_path = fs::path(model_dir) / "tokenizer_config.json";
  fs::path jinja_path = fs::path(model_dir) / "chat_template.jinja";
  nlohmann::json config = nlohmann::json::object();
  if (fs::exists(config_path)) {
    config = load_json_node(config_path.string(), kMaxTokenizerConfigBytes).value();
    if (!config.is_object()) throw tern::error(config_path.string(), ": expected a JSON object");
    result.special_tokens.bos_token = special_token(config, "bos_token", config_path.string());
    result.special_tokens.eos_token = special_token(config, "eos_token", config_path.string());
  } else if (!fs::exists(jinja_path)) {
    throw tern::error(model_dir, ": neither tokenizer_config.json nor chat_template.jinja found");
  }
  result.source = fs::exists(jinja_path) ? read_regular_file(jinja_path.string(), kMaxChatTemplateBytes)
                                         : template_from_config(config, config_path.string());
  return result;
}

}  // namespace tern
