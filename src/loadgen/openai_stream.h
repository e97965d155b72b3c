// The OpenAI streaming protocol as the benchmark uses it: the body of a streamed
// /v1/completions or /v1/chat/completions request, and a reader of the stream's data
// events that times tokens and counts them. Only standard fields are sent (plus
// `ignore_eos` when asked for, which vLLM, SGLang, llama-server and tern accept), so any
// OpenAI-compatible server can be measured.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/workload.h"

namespace tern::loadgen {

enum class Endpoint { kCompletions, kChat };

const char* endpoint_path(Endpoint endpoint);  // "/v1/completions" or "/v1/chat/completions"

struct RequestSettings {
  std::string model;
  Endpoint endpoint = Endpoint::kCompletions;
  double temperature = 0.0;
  bool ignore_eos = false;
  std::string response_format;  // JSON text of OpenAI's response_format, sent as is; empty: none
};

// JSON body: model, the prompt (token ids or text; a user message for chat), max_tokens,
// temperature, stream with stream_options.include_usage, response_format when set.
std::string request_body(const RequestSettings& settings, const BenchPrompt& prompt);

// Consumes the data payloads of one stream, in order, with the time each arrived
// (seconds since the request was sent). A token chunk is one whose first choice carries
// text (completions) or delta content / reasoning content (chat); its arrival times give
// TTFT and the inter-token latencies. Output tokens are usage.completion_tokens when the
// server sends usage, else the number of token chunks.
class StreamReader {
 public:
  enum class Step { kContinue, kDone, kError };

  explicit StreamReader(Endpoint endpoint) : endpoint_(endpoint) {}

  // kDone on "[DONE]"; kError (error_class() and error_message() say why) on a payload
  // that is not JSON, or an error object the server sent mid-stream.
  Step on_data(std::string_view data, double now_s);

  bool saw_finish_reason() const { return saw_finish_; }
  int64_t num_token_chunks() const { return static_cast<int64_t>(token_times_s_.size()); }
  const std::vector<double>& token_times_s() const { return token_times_s_; }
  std::optional<int64_t> usage_completion_tokens() const { return usage_completion_; }
  std::optional<int64_t> usage_prompt_tokens() const { return usage_prompt_; }
  const std::string& error_class() const { return error_class_; }
  const std::string& error_message() const { return error_message_; }

 private:
  Step fail(const char* error_class, std::string message);

  Endpoint endpoint_;
  std::vector<double> token_times_s_;
  std::optional<int64_t> usage_completion_, usage_prompt_;
  bool saw_finish_ = false;
  std::string error_class_, error_message_;
};

// The message of an OpenAI error body ({"error": {"message": ...}}), or the start of
// the body when it is not one.
std::string error_message_of(std::string_view body);

}  // namespace tern::loadgen
