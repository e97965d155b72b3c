// One client connection: HTTP/1.1 requests read in order (keep-alive, pipelining), each
// dispatched to the router and answered through this session as the ResponseChannel.
//
// Everything runs on the connection's strand. Limits: the body (413 as soon as the
// declared or received size passes it), the header block in bytes and in fields (431), an
// idle timeout between requests, a header timeout from the first byte and a body timeout;
// a write that makes no progress for write_timeout, or unsent bytes beyond
// max_buffered_write_bytes (a client that stopped reading), drop the connection. While a response is in progress the
// session keeps reading, so a client that disconnects is noticed at once and its
// request cancelled; bytes it pipelines meanwhile wait in the (bounded) read buffer.
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "server/api_error.h"
#include "server/cors.h"
#include "server/response_channel.h"
#include "server/server_state.h"

namespace tern::server {

class HttpSession : public ResponseChannel, public std::enable_shared_from_this<HttpSession> {
 public:
  // `socket` must use a strand executor of its own.
  HttpSession(boost::asio::ip::tcp::socket socket, std::shared_ptr<ServerState> state);
  ~HttpSession() override;
  void start();

  void send(HttpResponse response) override;
  void begin_stream(HttpResponse head) override;
  void write(std::string_view data) override;
  void end_stream() override;
  void on_cancel(std::function<void()> cancel) override;
  bool is_open() const override;
  void post(std::function<void()> fn) override;
  void post_after(std::chrono::milliseconds delay, std::function<void()> fn) override;

 private:
  enum class Phase { kReading, kResponding, kLingering, kClosed };
  enum class Deadline { kNone, kIdle, kHeader, kBody, kWrite, kLinger };

  void read_next_request();
  void parse_buffered();
  void read_more();
  void on_read(boost::system::error_code ec, size_t bytes);
  void append_read(size_t bytes);
  void handle_request();
  void reject_malformed(boost::system::error_code ec);
  void reject(const ApiError& error);  // answers and closes: the request could not be read
  void begin_response();
  std::string head(const HttpResponse& response, bool streamed) const;
  void flush();
  void on_write(boost::system::error_code ec);
  void finish_response();
  void set_deadline(Deadline deadline);
  void on_deadline();
  void linger_close();
  void close();

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<ServerState> state_;
  Phase phase_ = Phase::kReading;
  Deadline deadline_ = Deadline::kNone;
  uint64_t deadline_generation_ = 0;

  static constexpr size_t kReadChunk = 16 << 10;
  // Received bytes not parsed yet (pipelined requests wait here while one is answered).
  boost::beast::flat_buffer buffer_;
  // The socket reads into this, never into buffer_: a read stays pending while a response
  // is written, and parsing a pipelined request meanwhile moves buffer_'s free space
  // (consume() rewinds it, prepare() may move or reallocate it), so a read into space
  // prepared before would land outside what commit() then marks as received.
  std::array<char, kReadChunk> read_chunk_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  bool reading_ = false;
  bool continue_sent_ = false;  // "100 Continue" for the current request
  bool header_checked_ = false;  // the field count of the current request was checked

  // The response in progress.
  std::string request_id_;
  std::string log_line_;  // method and path, for the access log
  std::chrono::steady_clock::time_point started_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  HeaderList cors_;
  bool response_started_ = false;
  bool response_ended_ = false;
  bool chunked_ = false;
  unsigned status_ = 0;
  std::function<void()> cancel_;

  std::string out_;      // queued bytes
  std::string sending_;  // bytes of the write in flight
  bool writing_ = false;
};

}  // namespace tern::server
