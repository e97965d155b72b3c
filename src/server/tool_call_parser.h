// Turns Qwen/Hermes-style tool calls in streamed model text into OpenAI tool calls:
//   <tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>
// Text outside the tags is content. Text that might be the start of "<tool_call>" is held
// back until it is decided, so no tag fragment ever reaches the client as content. A block
// whose body is not {"name": string, "arguments": object} is passed through as content,
// tags included, so nothing the model wrote is lost.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tern::server {

struct ParsedToolCall {
  std::string name;
  std::string arguments;  // a JSON object, serialised (OpenAI sends arguments as a string)
};

struct ToolCallDelta {
  std::string content;
  std::vector<ParsedToolCall> calls;
};

class ToolCallParser {
 public:
  // What `text` (the next piece of the output) makes safe to emit.
  ToolCallDelta push(std::string_view text);
  // Everything still held back, at the end of the output.
  ToolCallDelta finish();

 private:
  void scan(ToolCallDelta& out);

  std::string pending_;  // undecided text: a possible tag start, or an open block's body
  bool in_call_ = false;
  bool seen_call_ = false;
};

}  // namespace tern::server
