// A model's chat template, rendered byte-identically to Hugging Face transformers'
// tokenizer.apply_chat_template(messages, tools=..., add_generation_prompt=...,
// tokenize=False).
//
// The template is the model's own Jinja source (tokenizer_config.json "chat_template"
// or chat_template.jinja), run by tern's small Jinja interpreter (src/jinja/). Message
// content is data: "{{ 7*7 }}" in a message prints as written. The interpreter reaches
// no host object, and every render is bounded by ChatTemplateLimits; exceeding one, a
// template error and raise_exception() all throw tern::Error (a 400 for the request).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace tern {

namespace jinja {
class Template;
}

struct ChatTemplateLimits {
  uint64_t max_steps = 10'000'000;              // statements + expressions + loop turns
  size_t max_output_bytes = size_t{16} << 20;   // rendered prompt (and any one string)
  size_t max_memory_bytes = size_t{256} << 20;  // everything one render allocates
  int max_depth = 400;                          // nested evaluation, macro recursion included
};

// Special tokens transformers passes to every render (tokenizer.special_tokens_map);
// absent ones are undefined in the template.
struct ChatSpecialTokens {
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
};

struct ChatRenderRequest {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // OpenAI-style messages
  nlohmann::ordered_json tools = nullptr;                             // array, or null for none
  bool add_generation_prompt = true;
  // More template variables (chat_template_kwargs, e.g. enable_thinking). They may
  // override the special tokens but not messages, tools, documents or
  // add_generation_prompt. Callers facing users should allowlist the keys.
  nlohmann::ordered_json extra_variables = nlohmann::ordered_json::object();
};

class ChatTemplate {
 public:
  // Compiles `source`; throws tern::Error "chat template: line L, column C: ..." on
  // syntax errors.
  ChatTemplate(std::string_view source, ChatSpecialTokens special_tokens, ChatTemplateLimits limits = {});
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // The prompt for `request`, with the variables transformers defines: messages, tools,
  // documents (None), add_generation_prompt, the special tokens and the extras.
  // Safe to call from several threads at once.
  std::string render(const ChatRenderRequest& request) const;

  // Lower level: every key of `context` (a JSON object) becomes a variable.
  std::string render_context(const nlohmann::ordered_json& context) const;

 private:
  std::unique_ptr<const jinja::Template> template_;
  ChatSpecialTokens special_tokens_;
  ChatTemplateLimits limits_;
};

// What a model directory says about its chat template.
struct ModelChatTemplate {
  std::string source;
  ChatSpecialTokens special_tokens;
};

// Reads DIR/chat_template.jinja when present (it overrides the config, as in
// transformers), else tokenizer_config.json's "chat_template" (a string, or a list of
// {"name", "template"} of which "default" is used); bos_token/eos_token come from
// tokenizer_config.json (strings or {"content": ...} objects). Throws tern::Error
// naming the file and field when there is no template or a file is malformed.
ModelChatTemplate read_model_chat_template(const std::string& model_dir);

}  // namespace tern
