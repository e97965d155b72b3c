// An HTTP/1.1 client for many concurrent streamed OpenAI requests on one io_context: one
// event loop, no thread per request. Keep-alive connections are pooled and reused; a
// request on a reused connection that the server had already closed is retried once on
// a fresh one (no response byte had arrived, so nothing is counted twice). Every failure
// becomes a RequestRecord with an error class; nothing a server sends can throw here.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "loadgen/http_url.h"
#include "loadgen/openai_stream.h"
#include "loadgen/request_record.h"

namespace tern::loadgen {

struct StreamClientConfig {
  HttpUrl url;
  std::string api_key;      // sent as "Authorization: Bearer KEY" when not empty
  double timeout_s = 600;   // per request, from sending to the end of the stream; 0: none
};

class StreamClient {
 public:
  using Done = std::function<void(RequestRecord)>;

  // Resolves the host once. Throws tern::Error when it cannot be resolved.
  StreamClient(boost::asio::io_context& io, StreamClientConfig config);
  ~StreamClient();

  // Sends one streamed POST to `target`; `done` runs once, on the io_context's thread,
  // with the record (start_s left 0; prompt_tokens falls back to `prompt_tokens`).
  void send(std::string target, std::string body, Endpoint endpoint, int64_t prompt_tokens, Done done);

  // Called on every token chunk of any request (for a live progress line).
  void set_on_token(std::function<void()> on_token) { on_token_ = std::move(on_token); }

 private:
  class Exchange;
  std::unique_ptr<boost::beast::tcp_stream> take_idle();
  void put_idle(std::unique_ptr<boost::beast::tcp_stream> stream);

  boost::asio::io_context& io_;
  StreamClientConfig config_;
  boost::asio::ip::tcp::resolver::results_type endpoints_;
  std::vector<std::unique_ptr<boost::beast::tcp_stream>> idle_;
  std::function<void()> on_token_;
};

}  // namespace tern::loadgen
