#include "server/sse_writer.h"

namespace tern::server {
namespace {

constexpr std::string_view kDone = "data: [DONE]\n\n";
constexpr std::string_view kKeepAlive = ": keep-alive\n\n";

HttpResponse sse_head() {
  HttpResponse head;
  head.content_type = "text/event-stream; charset=utf-8";
  head.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  return head;
}

}  // namespace

void SseWriter::start() {
  if (started_) return;
  channel_->begin_stream(sse_head());
  started_ = true;
}

void SseWriter::write_event(const Json& payload) {
  start();
  // Engine text is valid UTF-8 by contract; replace guards the framing if it ever is not.
  std::string event = "data: ";
  event += payload.dump(-1, ' ', false, Json::error_handler_t::replace);
  event += "\n\n";
  channel_->write(event);
}

void SseWriter::chunk(const Json& chunk) { write_event(chunk); }

void SseWriter::keep_alive() {
  start();
  channel_->write(kKeepAlive);
}

void SseWriter::fail(const ApiError& error) {
  if (!started_) {
    channel_->send(error_response(error));  // nothing sent yet: a plain error status
    return;
  }
  write_event(error_body(error));
  channel_->write(kDone);
  channel_->end_stream();
}

void SseWriter::done() {
  start();
  channel_->write(kDone);
  channel_->end_stream();
}

}  // namespace tern::server
