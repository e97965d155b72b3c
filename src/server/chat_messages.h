// Validation of the chat-specific fields (messages, tools, tool_choice) into the shapes
// Hugging Face chat templates expect. Message text is data: it is never evaluated.
#pragma once

#include <string>

#include "server/json_body.h"
#include "server/json_fields.h"

namespace tern::server {

// OpenAI messages -> template messages: {role, content} plus tool_calls (arguments
// parsed from their JSON string into an object, as vLLM and transformers do),
// tool_call_id and name where given. Roles: system, developer (rendered as system), user,
// assistant, tool. Content is a string or a list of text parts (joined by "\n"). Throws
// ApiError 400 naming e.g. "messages[1].content".
Json normalize_messages(const Json* messages);

// tools: null or an array of {"type": "function", "function": {"name", "description"?,
// "parameters"?}}; returned as given (null when absent or empty).
Json normalize_tools(const Json* tools);

struct ToolChoice {
  // kRequired and kNamed force a call through the grammar (tool_call_grammar.h).
  enum Kind { kNone, kAuto, kRequired, kNamed } kind = kNone;
  std::string name;  // kNamed: the function
};

// "none", "auto" (the default when tools are given), "required" or {"type": "function",
// "function": {"name": ...}} naming one of `tools`. Throws ApiError 400 naming the field.
ToolChoice read_tool_choice(const JsonFields& body, const Json& tools);

}  // namespace tern::server
