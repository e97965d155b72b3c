// Tool calls in streamed model text -> OpenAI tool-call deltas, in the format the model
// writes them:
//   hermes (Qwen2.5, Hermes): <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>,
//     anywhere in the text, one block per call;
//   llama3_json (Llama 3.1): the whole output is {"name": "f", "parameters": {...}} (after
//     an optional <|python_tag|>), several joined by "; ";
//   mistral (Mistral v0.3): [TOOL_CALLS][{"name": "f", "arguments": {...}}, ...].
// A call streams as it is written: its name once `{"name": "f", "arguments": {` has been
// seen, then its arguments' JSON text in pieces, exactly as the model wrote it, so the
// pieces joined are the non-streamed call. A call written another way (keys in the other
// order, arguments as a string) is taken whole once complete; text that is no call stays
// content, so nothing the model wrote is lost. Text that might be the start of a call is
// held back until decided: no tag fragment reaches the client as content.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::server {

enum class ToolCallFormat { kHermes, kLlama3Json, kMistral };

// vLLM's --tool-call-parser names: "hermes", "llama3_json", "mistral".
std::optional<ToolCallFormat> tool_call_format_named(std::string_view name);
const char* tool_call_format_name(ToolCallFormat format);
// The format a chat template's model writes: [TOOL_CALLS] -> mistral, <tool_call> ->
// hermes, Llama 3.1's <|python_tag|> / ipython role -> llama3_json, else hermes.
ToolCallFormat detect_tool_call_format(std::string_view template_source);

// The next piece of one call.
struct ToolCallPiece {
  int32_t index = 0;                // the call's position among the completion's calls
  std::optional<std::string> name;  // in its first piece only
  std::string arguments;            // more of the arguments' JSON text
};

struct ToolCallDelta {
  std::string content;
  std::vector<ToolCallPiece> calls;
};

class ToolCallParser {
 public:
  // `in_call_list`: the output starts inside the list of calls (mistral, when the prompt
  // already ends with [TOOL_CALLS]: a forced call).
  explicit ToolCallParser(ToolCallFormat format = ToolCallFormat::kHermes, bool in_call_list = false);

  // What `text` (the next piece of the output) makes safe to emit.
  ToolCallDelta push(std::string_view text);
  // Everything still held back, at the end of the output.
  ToolCallDelta finish();
  // Calls started so far.
  int32_t num_calls() const { return num_calls_; }

 private:
  enum class State {
    kText,        // content; hermes and mistral look for their opening tag
    kStart,       // llama3_json: leading white space, an optional <|python_tag|>, then '{' or content
    kListOpen,    // mistral: after [TOOL_CALLS], before '['
    kCall,        // inside one call object (see Scanner)
    kAfterCall,   // after a call's closing '}': a separator, the end of the list, or its closing tag
    kWholeBlock,  // hermes: a block not written the streaming way, kept until </tool_call>
    kRest,        // llama3_json / mistral: calls not written the streaming way, kept to the end
  };

  void step(char c, ToolCallDelta& out);
  void text_char(char c, ToolCallDelta& out);
  void call_char(char c, ToolCallDelta& out);
  void after_call_char(char c, ToolCallDelta& out);
  // The call being read is not written the streaming way: keep it whole.
  void give_up_streaming(ToolCallDelta& out);
  // A complete block or list, parsed at once.
  void parse_whole(std::string_view json, ToolCallDelta& out, std::string_view original);
  ToolCallPiece& piece(ToolCallDelta& out);

  ToolCallFormat format_;
  State state_;
  std::string held_;  // undecided text of the current state, as the model wrote it
  int32_t num_calls_ = 0;
  bool seen_call_ = false;  // hermes: white space between and after calls is dropped

  // One call object: `{ "name" : "<name>" , "arguments"|"parameters" : ` then the
  // arguments object (streamed), then `}`.
  struct Scanner {
    int stage = 0;      // position in the header (see call_char)
    std::string token;  // the key or name being read
    std::string name;
    int depth = 0;  // inside the arguments object
    bool in_string = false;
    bool escape = false;
    // Follows one character of JSON text (strings, escapes, nesting); true when it closes
    // the level `depth` counted from.
    bool closes(char c);
  } scan_;
};

}  // namespace tern::server
