// How a handler answers: one whole response, or a streamed one (head, body pieces, end).
// The HTTP session implements it. Every call must run on the channel's executor: the
// handler's own call, or a function given to post().
#pragma once

#include <chrono>
#include <functional>
#include <string_view>

#include "server/http_types.h"

namespace tern::server {

class ResponseChannel {
 public:
  virtual ~ResponseChannel() = default;
  // A whole response; the request is answered.
  virtual void send(HttpResponse response) = 0;
  // The status and headers of a streamed response (the body of `head` is ignored); the
  // body follows in write() calls and end_stream().
  virtual void begin_stream(HttpResponse head) = 0;
  // Ignored once the client is gone. A client that stops reading while the unsent bytes
  // exceed the connection's buffer limit is dropped (and `cancel` runs).
  virtual void write(std::string_view data) = 0;
  virtual void end_stream() = 0;
  // Runs if the client disconnects, stalls or times out before the response has ended;
  // never after. Replaces an earlier one.
  virtual void on_cancel(std::function<void()> cancel) = 0;
  // False once the client is gone or the response has ended.
  virtual bool is_open() const = 0;
  // Runs `fn` on the channel's executor (from any thread).
  virtual void post(std::function<void()> fn) = 0;
  // Runs `fn` on the channel's executor after `delay`, unless the connection has closed
  // by then.
  virtual void post_after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
};

}  // namespace tern::server
