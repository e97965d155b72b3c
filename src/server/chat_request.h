// POST /v1/chat/completions: the body -> ValidRequest, through the model's chat template.
#pragma once

#include <cstdint>
#include <vector>

#include "server/chat_messages.h"
#include "server/json_fields.h"
#include "server/prompt_tokens.h"
#include "server/served_model.h"
#include "server/valid_request.h"

namespace tern::server {

struct ChatPrompt {
  std::vector<int32_t> token_ids;
  bool tools_enabled = false;  // tools were given and tool_choice is not "none"
  Json tools;                  // as validated (null without tools)
  ToolChoice tool_choice;
  bool parallel_tool_calls = true;
};

// messages, tools, tool_choice, add_generation_prompt and chat_template_kwargs (allowlist:
// enable_thinking) rendered by the model's template and tokenized (special tokens are
// not added again: the template writes them). With split_special_tokens (the request's,
// or prepare's server-wide switch) special-token strings in the messages and tools are
// plain text (content_markers.h). A request-supplied chat_template, a model without a
// template and template errors (including its step and size budgets) are 400s. Shared
// with POST /tokenize.
ChatPrompt build_chat_prompt(const JsonFields& body, const ServedModel& model, const PrepareOptions& prepare = {});

ValidRequest parse_chat_request(const Json& body, const ServedModel& model, const PrepareOptions& prepare = {});

}  // namespace tern::server
