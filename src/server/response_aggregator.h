// Merges the stream chunks of one answer into the non-streaming response body:
// "chat.completion" ({message: {role, content, tool_calls?}}) or "text_completion"
// ({text}), with logprobs concatenated and the usage chunk's usage. Because it reads the
// very chunks SSE would send, both responses carry the same text.
#pragma once

#include <map>

#include "server/json_body.h"
#include "server/valid_request.h"

namespace tern::server {

class ResponseAggregator {
 public:
  explicit ResponseAggregator(RequestApi api) : api_(api) {}
  void add(const Json& chunk);
  // The response object; call after the usage chunk.
  Json response() const;

 private:
  struct Choice {
    std::string text;
    Json tool_calls = Json::array();
    Json logprobs = nullptr;
    Json finish_reason = nullptr;
    Json prompt_logprobs = nullptr;  // completions with vLLM's prompt_logprobs
  };

  void add_logprobs(Choice& choice, const Json& logprobs);

  RequestApi api_;
  Json header_;  // id, created, model from the first chunk
  std::map<int64_t, Choice> choices_;
  Json usage_ = nullptr;
};

}  // namespace tern::server
