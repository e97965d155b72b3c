#include "server/chat_request.h"

#include "base/error.h"
#include "server/api_error.h"
#include "server/chat_messages.h"
#include "server/content_markers.h"
#include "server/prompt_tokens.h"
#include "server/sampling_request.h"

namespace tern::server {
namespace {

Json read_template_kwargs(const JsonFields& body) {
  Json extra = Json::object();
  const std::optional<JsonFields> kwargs = body.object("chat_template_kwargs");
  if (!kwargs) return extra;
  for (const auto& [key, value] : kwargs->json().items()) {
    if (key != "enable_thinking") {
      throw invalid_param(kwargs->param(key), "is not an allowed chat_template_kwargs key (allowed: enable_thinking)");
    }
    extra[key] = kwargs->boolean(key).value_or(false);
  }
  return extra;
}

}  // namespace

ChatPrompt build_chat_prompt(const JsonFields& body, const ServedModel& model, const PrepareOptions& prepare) {
  if (body.has("chat_template")) {
    throw invalid_param("chat_template",
                        "request-supplied chat templates are not allowed; the server uses the model's");
  }
  ChatRenderRequest render;
  render.messages = normalize_messages(body.find("messages"));
  const Json tools = normalize_tools(body.find("tools"));
  ChatPrompt prompt;
  const ToolChoice choice = read_tool_choice(body, !tools.is_null());
  body.boolean("parallel_tool_calls");  // accepted; the model decides how many calls it makes
  prompt.tools_enabled = !tools.is_null() && choice == ToolChoice::kAuto;
  if (prompt.tools_enabled) render.tools = tools;
  render.add_generation_prompt = body.boolean("add_generation_prompt").value_or(true);
  render.extra_variables = read_template_kwargs(body);
  const bool plain_contents = prepare.split_special_tokens_in_content || read_split_special_tokens(body);
  std::optional<ContentMarkers> markers;
  if (plain_contents) {
    markers.emplace(*model.tokenizer);
    markers->mark(render.messages);
    markers->mark(render.tools);
  }
  if (!model.chat_template) {
    throw ApiError(
        ApiErrorKind::kInvalidRequest,
        "this model has no chat template; use /v1/completions, or start the server with --chat-template FILE",
        "messages");
  }
  std::string text;
  try {
    text = model.chat_template->render(render);
  } catch (const Error& e) {
    throw ApiError(ApiErrorKind::kInvalidRequest,
                   std::string("the chat template failed for these messages: ") + e.what(), "messages");
  }
  // The template writes the special tokens it wants; none are added.
  EncodeOptions options{.add_special_tokens = false, .cancel = prepare.cancel};
  ContentMarkers::Unmarked unmarked;
  if (markers) {
    unmarked = markers->unmark(text);
    text = std::move(unmarked.text);
    options.plain_ranges = unmarked.plain_ranges;
  }
  prompt.token_ids = encode_prompt(*model.tokenizer, text, options, "messages");
  if (prompt.token_ids.empty()) throw invalid_param("messages", "the rendered prompt is empty");
  return prompt;
}

ValidRequest parse_chat_request(const Json& body, const ServedModel& model, const PrepareOptions& prepare) {
  const JsonFields fields(body, "");
  ValidRequest request;
  request.api = RequestApi::kChat;
  const MaxTokensField max_tokens = read_shared_fields(fields, model, request);
  ChatPrompt prompt = build_chat_prompt(fields, model, prepare);
  request.parse_tool_calls = prompt.tools_enabled;
  request.prompts.push_back(ValidPrompt{.token_ids = std::move(prompt.token_ids)});
  resolve_max_tokens(request, max_tokens, model.max_model_len(), "messages");
  return request;
}

}  // namespace tern::server
