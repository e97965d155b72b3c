// The grammar of forced tool calls (tool_choice "required" or a named function): the
// output is calls of the given tools in the model's format, each call's arguments
// matching its function's parameters schema (any JSON object when it has none), and
// nothing else:
//   hermes       <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>, joined by "\n"
//   llama3_json  {"name": "f", "parameters": {...}}, joined by "; "
//   mistral      [{"name": "f", "arguments": {...}}, ...] after the [TOOL_CALLS] token, which
//                the caller appends to the prompt (a grammar never writes special tokens)
// One call, or with `parallel` one or more.
#pragma once

#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "server/json_body.h"
#include "server/tool_call_parser.h"

namespace tern::server {

struct ToolSpec {
  const Json* function = nullptr;  // {"name", "parameters"?, ...}
  std::string param;               // "tools[2].function", for errors
};

// Throws ApiError 400 naming "<param>.parameters" for a schema the grammar engine refuses.
grammar::Grammar tool_call_grammar(ToolCallFormat format, const std::vector<ToolSpec>& tools, bool parallel);

}  // namespace tern::server
