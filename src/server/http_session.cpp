#include "server/http_session.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <cstring>
#include <iterator>

#include "base/log.h"
#include "server/api_error.h"
#include "server/request_head.h"
#include "server/router.h"

namespace tern::server {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

namespace {

constexpr auto kLingerTime = std::chrono::seconds(2);
// nginx's status for a request whose client went away before its response was complete;
// only the access log shows it.
constexpr unsigned kClientClosedRequest = 499;

// The log shows the method and the path; bytes that could forge log lines are masked.
std::string loggable(std::string_view text) {
  std::string out(text.substr(0, 96));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return out;
}

}  // namespace

HttpSession::HttpSession(asio::ip::tcp::socket socket, std::shared_ptr<ServerState> state)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      state_(std::move(state)),
      buffer_(state_->config().max_header_bytes + 4 * kReadChunk) {}

HttpSession::~HttpSession() {
  if (phase_ == Phase::kResponding) --state_->active_responses();
}

void HttpSession::start() {
  error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->read_next_request(); });
}

// ---- Reading -------------------------------------------------------------------------

void HttpSession::read_next_request() {
  phase_ = Phase::kReading;
  const ServerConfig& config = state_->config();
  parser_.emplace();
  parser_->body_limit(config.max_request_bytes);
  parser_->header_limit(static_cast<uint32_t>(config.max_header_bytes));
  parser_->eager(true);
  continue_sent_ = false;
  header_checked_ = false;
  body_lease_ = BodyBudget::Lease(state_->body_budget());
  if (buffer_.size() > 0) {
    parse_buffered();
    return;
  }
  set_deadline(Deadline::kIdle);
  read_more();
}

void HttpSession::read_more() {
  if (reading_ || phase_ == Phase::kClosed) return;
  const size_t room = buffer_.max_size() - buffer_.size();
  if (room == 0) return;  // full of pipelined bytes: read again once they are parsed
  reading_ = true;
  socket_.async_read_some(asio::buffer(read_chunk_.data(), std::min(room, read_chunk_.size())),
                          [self = shared_from_this()](error_code ec, size_t n) { self->on_read(ec, n); });
}

void HttpSession::on_read(error_code ec, size_t bytes) {
  reading_ = false;
  if (ec) {
    // Between requests this is the client closing its connection; during a response it
    // is a disconnect and cancels the request (close() does).
    close();
    return;
  }
  switch (phase_) {
    case Phase::kReading:
      append_read(bytes);
      parse_buffered();
      break;
    case Phase::kResponding:
      append_read(bytes);  // pipelined: parsed once this response is done
      read_more();         // keep watching for a disconnect
      break;
    case Phase::kLingering:
      read_more();  // dropped
      break;
    case Phase::kClosed:
      break;
  }
}

// Only one read is in flight and only it adds bytes, so the room read_more() saw is
// still there.
void HttpSession::append_read(size_t bytes) {
  std::memcpy(buffer_.prepare(bytes).data(), read_chunk_.data(), bytes);
  buffer_.commit(bytes);
}

void HttpSession::parse_buffered() {
  while (buffer_.size() > 0 && !parser_->is_done()) {
    error_code ec;
    const size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec == http::error::need_more) break;
    if (ec) {
      reject_malformed(ec);
      return;
    }
    if (used == 0) break;
  }
  if (parser_->is_header_done() && !header_checked_) {
    header_checked_ = true;
    auto& fields = parser_->get();
    // Before any of the body is taken as a body, or as the next request.
    if (std::optional<ApiError> bad = check_request_head(fields, fields.version())) {
      reject(*bad);
      return;
    }
    // A chunked body of unknown size: room for the largest allowed body at once, so it is
    // never copied while it grows (doubling would hold up to 3x the limit for a moment).
    // Pages are touched only as bytes arrive.
    if (parser_->chunked()) fields.body().reserve(state_->config().max_request_bytes);
    const size_t count = static_cast<size_t>(std::distance(fields.begin(), fields.end()));
    if (count > state_->config().max_header_count) {
      reject(ApiError(ApiErrorKind::kHeadersTooLarge,
                      "The request has " + std::to_string(count) + " header fields; the limit is " +
                          std::to_string(state_->config().max_header_count) + ".",
                      std::nullopt, "request_header_fields_too_large"));
      return;
    }
  }
  // The body's bytes count against the server-wide budget: all of a declared length at
  // once, a chunked body as it arrives.
  if (parser_->is_header_done() &&
      !body_lease_.grow_to(std::max<size_t>(parser_->content_length().value_or(0), parser_->get().body().size()))) {
    state_->metrics().count_shed(ShedReason::kBodyBytes);
    reject(ApiError(ApiErrorKind::kOverloaded,
                    "The server is overloaded: it holds too many request bodies at once. Retry later.", std::nullopt,
                    "server_overloaded"));
    return;
  }
  if (parser_->is_done()) {
    set_deadline(Deadline::kNone);
    handle_request();
    return;
  }
  if (parser_->is_header_done()) {
    if (deadline_ != Deadline::kBody) set_deadline(Deadline::kBody);
    const auto& header = parser_->get();
    if (!continue_sent_ && boost::beast::iequals(header[http::field::expect], "100-continue")) {
      continue_sent_ = true;
      out_ += "HTTP/1.1 100 Continue\r\n\r\n";
      flush();
    }
  } else if (buffer_.size() > 0 && deadline_ != Deadline::kHeader) {
    set_deadline(Deadline::kHeader);
  }
  read_more();
}

void HttpSession::begin_response() {
  phase_ = Phase::kResponding;
  head_only_ = false;
  ++state_->active_responses();
  request_id_ = state_->next_request_id();
  started_ = std::chrono::steady_clock::now();
  response_started_ = response_ended_ = chunked_ = false;
  status_ = 0;
}

void HttpSession::handle_request() {
  begin_response();
  http::request<http::string_body> message = parser_->release();
  parser_.reset();
  version_ = message.version();
  head_only_ = message.method() == http::verb::head;
  keep_alive_ = message.keep_alive() && state_->phase() != ServerPhase::kDraining;
  HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  request.content_type = std::string(message[http::field::content_type]);
  request.authorization = std::string(message[http::field::authorization]);
  request.host = std::string(message[http::field::host]);
  request.origin = std::string(message[http::field::origin]);
  request.body = std::move(message.body());
  request.body_lease = std::move(body_lease_);
  request.request_id = request_id_;
  cors_ = cors_headers(state_->config().allowed_origins, request.origin);
  log_line_ =
      loggable(request.method) + " " + loggable(std::string_view(request.target).substr(0, request.target.find('?')));
  read_more();  // notice a disconnect while the request is served
  dispatch(request, *state_, shared_from_this());
}

void HttpSession::reject(const ApiError& error) {
  begin_response();
  keep_alive_ = false;
  log_line_ = "(malformed request)";
  if (parser_ && parser_->is_header_done()) {
    const auto& head = parser_->get();
    const std::string_view target(head.target().data(), head.target().size());
    log_line_ = loggable(std::string_view(head.method_string().data(), head.method_string().size())) + " " +
                loggable(target.substr(0, target.find('?')));
  }
  body_lease_.release();  // the body is not read further
  send(error_response(error));
}

void HttpSession::reject_malformed(error_code ec) {
  ApiErrorKind kind = ApiErrorKind::kInvalidRequest;
  std::string message = "The HTTP request is malformed.";
  std::optional<std::string> code;
  if (ec == http::error::body_limit) {
    kind = ApiErrorKind::kRequestTooLarge;
    message = "The request body is larger than the limit of " + std::to_string(state_->config().max_request_bytes) +
              " bytes.";
    code = "request_too_large";
  } else if (ec == http::error::bad_transfer_encoding || ec == http::error::bad_content_length) {
    // Two Transfer-Encoding fields naming chunked, or Content-Length with chunked: the
    // body's length would be read two ways (request_head.h).
    message = "The request's Transfer-Encoding and Content-Length do not give one body length; send one of them.";
  } else if (ec == http::error::header_limit) {
    kind = ApiErrorKind::kHeadersTooLarge;
    message = "The request headers are larger than the limit of " + std::to_string(state_->config().max_header_bytes) +
              " bytes.";
    code = "request_header_fields_too_large";
  }
  reject(ApiError(kind, message, std::nullopt, code));
}

// ---- Writing -------------------------------------------------------------------------

std::string HttpSession::head(const HttpResponse& response, bool streamed) const {
  std::string h = "HTTP/1.1 " + std::to_string(response.status) + " ";
  h += std::string(http::obsolete_reason(http::int_to_status(response.status)));
  h += "\r\n";
  if (!response.content_type.empty()) h += "Content-Type: " + response.content_type + "\r\n";
  if (streamed) {
    if (chunked_) h += "Transfer-Encoding: chunked\r\n";
  } else if (response.status != 204 && response.status != 304) {
    h += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  }
  h += keep_alive_ ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  h += "X-Request-Id: " + request_id_ + "\r\n";
  for (const auto& [name, value] : response.headers) h += name + ": " + value + "\r\n";
  for (const auto& [name, value] : cors_) h += name + ": " + value + "\r\n";
  h += "\r\n";
  return h;
}

void HttpSession::send(HttpResponse response) {
  if (phase_ != Phase::kResponding || response_started_) return;
  response_started_ = response_ended_ = true;
  status_ = response.status;
  out_ += head(response, /*streamed=*/false);
  if (!head_only_) out_ += response.body;
  flush();
}

void HttpSession::begin_stream(HttpResponse response) {
  if (phase_ != Phase::kResponding || response_started_) return;
  response_started_ = true;
  status_ = response.status;
  // HTTP/1.0 has no chunked encoding: the body ends when the connection closes.
  chunked_ = version_ >= 11;
  if (!chunked_ && !head_only_) keep_alive_ = false;
  out_ += head(response, /*streamed=*/true);
  flush();
}

void HttpSession::write(std::string_view data) {
  if (phase_ != Phase::kResponding || !response_started_ || response_ended_ || data.empty() || head_only_) return;
  if (chunked_) {
    char size[20];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    out_ += size;
    out_ += data;
    out_ += "\r\n";
  } else {
    out_ += data;
  }
  if (out_.size() > state_->config().max_buffered_write_bytes) {
    log_warn("request ", request_id_, ": the client is not reading its stream; dropping the connection");
    close();
    return;
  }
  flush();
}

void HttpSession::end_stream() {
  if (phase_ != Phase::kResponding || !response_started_ || response_ended_) return;
  response_ended_ = true;
  if (chunked_ && !head_only_) out_ += "0\r\n\r\n";
  flush();
}

void HttpSession::on_cancel(std::function<void()> cancel) {
  if (is_open()) cancel_ = std::move(cancel);
}

bool HttpSession::is_open() const { return phase_ == Phase::kResponding && !response_ended_; }

void HttpSession::post(std::function<void()> fn) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), fn = std::move(fn)] { fn(); });
}

void HttpSession::post_after(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto timer = std::make_shared<asio::steady_timer>(socket_.get_executor(), delay);
  // A weak reference: a pending timer does not keep a closed connection alive.
  timer->async_wait([weak = weak_from_this(), timer, fn = std::move(fn)](error_code ec) {
    const std::shared_ptr<HttpSession> self = weak.lock();
    if (!ec && self && self->phase_ != Phase::kClosed) fn();
  });
}

void HttpSession::flush() {
  if (writing_ || out_.empty() || phase_ == Phase::kClosed) return;
  sending_.swap(out_);
  out_.clear();
  writing_ = true;
  if (phase_ == Phase::kResponding) set_deadline(Deadline::kWrite);
  asio::async_write(socket_, asio::buffer(sending_),
                    [self = shared_from_this()](error_code ec, size_t) { self->on_write(ec); });
}

void HttpSession::on_write(error_code ec) {
  writing_ = false;
  sending_.clear();
  if (ec) {
    close();
    return;
  }
  if (!out_.empty()) {
    flush();
    return;
  }
  if (phase_ != Phase::kResponding) return;
  set_deadline(Deadline::kNone);
  if (response_ended_) finish_response();
}

void HttpSession::log_access(unsigned status) const {
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
  log_info("request ", request_id_, " ", log_line_, " -> ", status, " (", static_cast<int64_t>(ms), " ms)");
}

void HttpSession::finish_response() {
  log_access(status_);
  --state_->active_responses();
  phase_ = Phase::kReading;  // not counted any more
  cancel_ = nullptr;
  if (!keep_alive_ || state_->phase() == ServerPhase::kDraining) {
    linger_close();
    return;
  }
  read_next_request();
}

// ---- Deadlines and closing -----------------------------------------------------------

void HttpSession::set_deadline(Deadline deadline) {
  deadline_ = deadline;
  ++deadline_generation_;
  if (deadline == Deadline::kNone) {
    timer_.cancel();
    return;
  }
  const ServerConfig& config = state_->config();
  std::chrono::milliseconds after{0};
  switch (deadline) {
    case Deadline::kIdle:
      after = config.idle_timeout;
      break;
    case Deadline::kHeader:
      after = config.header_timeout;
      break;
    case Deadline::kBody:
      after = config.body_timeout;
      break;
    case Deadline::kWrite:
      after = config.write_timeout;
      break;
    case Deadline::kLinger:
      after = kLingerTime;
      break;
    case Deadline::kNone:
      break;
  }
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this(), generation = deadline_generation_](error_code ec) {
    if (!ec && generation == self->deadline_generation_) self->on_deadline();
  });
}

void HttpSession::on_deadline() {
  if (deadline_ == Deadline::kWrite) {
    log_warn("request ", request_id_, ": a write made no progress for the write timeout; dropping the connection");
  }
  close();
}

// Stops sending and reads (and drops) what the client still sends for a moment, so our
// last response is not lost to a reset.
void HttpSession::linger_close() {
  phase_ = Phase::kLingering;
  error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  if (ec) {
    close();
    return;
  }
  buffer_.consume(buffer_.size());
  set_deadline(Deadline::kLinger);
  read_more();
}

void HttpSession::close() {
  if (phase_ == Phase::kClosed) return;
  const bool responding = phase_ == Phase::kResponding;
  phase_ = Phase::kClosed;
  if (responding) {
    // The response never reached its end: the client left (or stalled and was dropped).
    log_access(kClientClosedRequest);
    --state_->active_responses();
    if (!response_ended_ && cancel_) {
      std::function<void()> cancel = std::move(cancel_);
      cancel();
    }
  }
  cancel_ = nullptr;
  set_deadline(Deadline::kNone);
  error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

}  // namespace tern::server
