// A generation request that passed validation: what the engine runs and how the answer
// is shaped. Only validation (completion_request.h, chat_request.h) makes one, so code
// that holds a ValidRequest never re-checks ranges.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/sampling_params.h"
#include "server/tool_call_parser.h"

namespace tern::server {

enum class RequestApi { kCompletions, kChat };

// Limits the schema enforces (docs/reliability.md, groups B and C).
inline constexpr int32_t kMaxN = 16;
inline constexpr int32_t kMaxTopLogprobs = 20;
inline constexpr size_t kMaxStopStrings = 16;
inline constexpr size_t kMaxStopStringBytes = 512;
inline constexpr size_t kMaxStopTokenIds = 64;
inline constexpr size_t kMaxPrompts = 64;  // a completions prompt list
inline constexpr size_t kMaxMessages = 4096;
inline constexpr size_t kMaxTools = 128;
inline constexpr size_t kMaxLogitBias = 300;  // as OpenAI

struct ValidPrompt {
  std::vector<int32_t> token_ids;  // non-empty, every id in the vocabulary
  int32_t max_tokens = 0;          // resolved: prompt + max_tokens <= max_model_len (0: scoring only)
  std::string echo_text;           // completions with echo: the prompt's text, written before the completion
};

struct ValidRequest {
  RequestApi api = RequestApi::kCompletions;
  std::vector<ValidPrompt> prompts;  // one engine request each; choices prompt-major, then n
  SamplingParams params;             // max_tokens per prompt, in ValidPrompt
  int32_t priority = 0;              // lower runs first
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // Chat with tools: calls in this format become tool_calls. `tool_call_list_open`: the
  // prompt ends inside the list of calls (a forced mistral call).
  std::optional<ToolCallFormat> tool_calls;
  bool tool_call_list_open = false;
  bool parallel_tool_calls = true;      // false: at most one call per choice
  bool echo = false;                    // completions: each choice starts with its prompt (and its logprobs)
  bool return_prompt_logprobs = false;  // completions: vLLM's prompt_logprobs field per choice
};

}  // namespace tern::server
