#include "server/chat_request.h"

#include "base/error.h"
#include "server/api_error.h"
#include "server/chat_messages.h"
#include "server/content_markers.h"
#include "server/prompt_tokens.h"
#include "server/sampling_request.h"
#include "server/structured_output.h"
#include "server/tool_call_grammar.h"

namespace tern::server {
namespace {

Json read_template_kwargs(const JsonFields& body) {
  Json extra = Json::object();
  const std::optional<JsonFields> kwargs = body.object("chat_template_kwargs");
  if (!kwargs) return extra;
  for (const auto& [key, value] : kwargs->value().items()) {
    if (key != "enable_thinking") {
      throw invalid_param(kwargs->field_path(key), "is not an allowed chat_template_kwargs key (allowed: enable_thinking)");
    }
    extra[key] = kwargs->boolean(key).value_or(false);
  }
  return extra;
}

// tool_choice "required" or a named function: the output is calls, through the grammar.
void force_tool_calls(ChatPrompt& prompt, const ServedModel& model, ValidRequest& request) {
  if (request.params.grammar)
    throw invalid_param("tool_choice",
                        "a forced tool call cannot be combined with response_format, "
                        "structured_outputs or guided_*");
  std::vector<ToolSpec> tools;
  for (size_t i = 0; i < prompt.tools.size(); ++i) {
    const Json& function = prompt.tools[i]["function"];
    if (prompt.tool_choice.kind == ToolChoice::kNamed && function["name"] != prompt.tool_choice.name) continue;
    tools.push_back({&function, "tools[" + std::to_string(i) + "].function"});
  }
  const ToolCallFormat format = model.tool_call_format;
  OutputGrammar output{tool_call_grammar(format, tools, prompt.parallel_tool_calls), "tool_choice"};
  request.params.grammar = compile_output_grammar(output, model);
  if (format == ToolCallFormat::kMistral) {
    // The grammar writes the list of calls; the special token before it goes in the prompt.
    const std::optional<int32_t> id = model.tokenizer->token_to_id("[TOOL_CALLS]");
    if (!id) throw invalid_param("tool_choice", "the model's tokenizer has no [TOOL_CALLS] token to force a call with");
    prompt.token_ids.push_back(*id);
    request.tool_call_list_open = true;
  }
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
  prompt.tools = tools;
  prompt.tool_choice = read_tool_choice(body, tools);
  prompt.parallel_tool_calls = body.boolean("parallel_tool_calls").value_or(true);
  prompt.tools_enabled = !tools.is_null() && prompt.tool_choice.kind != ToolChoice::kNone;
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
  const JsonFields fields = request_fields(body, "");
  ValidRequest request;
  request.api = RequestApi::kChat;
  const MaxTokensField max_tokens = read_shared_fields(fields, model, request);
  ChatPrompt prompt = build_chat_prompt(fields, model, prepare);
  if (prompt.tools_enabled) {
    request.tool_calls = model.tool_call_format;
    request.parallel_tool_calls = prompt.parallel_tool_calls;
  }
  const ToolChoice& choice = prompt.tool_choice;
  if (choice.kind == ToolChoice::kRequired || choice.kind == ToolChoice::kNamed) {
    force_tool_calls(prompt, model, request);
  } else if (model.tool_call_format == ToolCallFormat::kMistral && prompt.tools_enabled) {
    request.params.skip_special_tokens = false;  // [TOOL_CALLS] is a special token
  }
  request.prompts.push_back(ValidPrompt{.token_ids = std::move(prompt.token_ids)});
  resolve_max_tokens(request, max_tokens, model.max_model_len(), "messages");
  return request;
}

}  // namespace tern::server
