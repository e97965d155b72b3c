// The SSE side of a generation: each chunk as "data: <json>\n\n" the moment it exists,
// an error after the head as one "data: {"error": ...}" event, and "data: [DONE]\n\n"
// last, as OpenAI streams. The head goes out with the first event, or with the first
// keep-alive comment while the request waits for its first token.
#pragma once

#include <memory>

#include "server/generation.h"
#include "server/response_channel.h"

namespace tern::server {

class SseWriter : public GenerationSink {
 public:
  explicit SseWriter(std::shared_ptr<ResponseChannel> channel) : channel_(std::move(channel)) {}
  void chunk(const Json& chunk) override;
  void fail(const ApiError& error) override;
  void done() override;
  // An SSE comment (": keep-alive"), which clients ignore; it starts the stream if needed.
  void keep_alive() override;

 private:
  void start();  // sends the head once
  void write_event(const Json& payload);

  std::shared_ptr<ResponseChannel> channel_;
  bool started_ = false;
};

}  // namespace tern::server
