#include "loadgen/stream_client.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>

#include "base/error.h"
#include "loadgen/sse_parser.h"

namespace tern::loadgen {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {
constexpr size_t kMaxIdleConnections = 1024;
constexpr size_t kMaxErrorBody = 64 << 10;

// Bytes the HTTP parser rejected, as opposed to a connection that failed or ended.
bool is_malformed_http(error_code ec) {
  return ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}
}  // namespace

// One request: connect (or reuse), write, read the head, then the body as it streams.
// Handlers hold a shared_ptr to it, so it lives until its last operation ends.
class StreamClient::Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(StreamClient& client, std::string target, std::string body, Endpoint endpoint, int64_t prompt_tokens,
           Done done)
      : client_(client),
        timer_(client.io_),
        target_(std::move(target)),
        body_(std::move(body)),
        reader_(endpoint),
        prompt_tokens_(prompt_tokens),
        done_(std::move(done)) {}

  void start() {
    started_ = Clock::now();
    if (client_.config_.timeout_s > 0) {
      timer_.expires_after(std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(client_.config_.timeout_s)));
      timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (!ec) self->on_timeout();
      });
    }
    acquire(/*allow_idle=*/true);
  }

 private:
  double now_s() const { return std::chrono::duration<double>(Clock::now() - started_).count(); }

  void acquire(bool allow_idle) {
    stream_ = allow_idle ? client_.take_idle() : nullptr;
    reused_ = stream_ != nullptr;
    if (reused_) {
      write();
      return;
    }
    stream_ = std::make_unique<beast::tcp_stream>(client_.io_);
    stream_->async_connect(client_.endpoints_, [self = shared_from_this()](error_code ec, const tcp::endpoint&) {
      self->on_connect(ec);
    });
  }

  void on_connect(error_code ec) {
    if (reported_) return;
    if (ec) return fail("connect_error", "cannot connect to " + client_.config_.url.host_header + ": " + ec.message());
    error_code ignored;
    stream_->socket().set_option(tcp::no_delay(true), ignored);
    write();
  }

  void write() {
    const HttpUrl& url = client_.config_.url;
    request_ = http::request<http::string_body>(http::verb::post, url.base_path + target_, 11);
    request_.set(http::field::host, url.host_header);
    request_.set(http::field::user_agent, "tern-bench");
    request_.set(http::field::content_type, "application/json");
    request_.set(http::field::accept, "text/event-stream");
    if (!client_.config_.api_key.empty()) request_.set(http::field::authorization, "Bearer " + client_.config_.api_key);
    request_.keep_alive(true);
    request_.body() = body_;
    request_.prepare_payload();
    http::async_write(*stream_, request_, [self = shared_from_this()](error_code ec, size_t) { self->on_write(ec); });
  }

  void on_write(error_code ec) {
    if (reported_) return;
    if (ec) return retry_or_fail("the connection failed while sending the request: " + ec.message());
    parser_.emplace();
    parser_->body_limit(boost::none);  // a stream is as long as it is
    http::async_read_header(*stream_, buffer_, *parser_,
                            [self = shared_from_this()](error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(error_code ec) {
    if (reported_) return;
    if (ec && is_malformed_http(ec)) return fail("malformed_http", "reading the response head: " + ec.message());
    if (ec) return retry_or_fail("the connection ended before the response head: " + ec.message());
    const auto& head = parser_->get();
    status_ = head.result_int();
    is_stream_ = status_ == 200 &&
                 head[http::field::content_type].find("text/event-stream") != beast::string_view::npos;
    read_body();
  }

  void read_body() {
    auto& body = parser_->get().body();
    body.data = chunk_;
    body.size = sizeof chunk_;
    http::async_read_some(*stream_, buffer_, *parser_,
                          [self = shared_from_this()](error_code ec, size_t) { self->on_body(ec); });
  }

  void on_body(error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (closed_) return;
    const size_t n = sizeof chunk_ - parser_->get().body().size;
    if (ec) {
      if (reported_) return close();  // draining after the stream ended: just drop the connection
      if (is_malformed_http(ec)) return fail("malformed_http", "reading the response body: " + ec.message());
      if (is_stream_ && reader_.saw_finish_reason()) return succeed();  // closed without [DONE]
      return fail("disconnected", "the connection ended mid-response: " + ec.message());
    }
    if (n > 0 && !reported_) consume(std::string_view(chunk_, n));
    if (closed_) return;
    if (parser_->is_done()) return on_message_end();
    read_body();
  }

  void consume(std::string_view bytes) {
    if (!is_stream_) {
      error_body_.append(bytes.substr(0, kMaxErrorBody - std::min(kMaxErrorBody, error_body_.size())));
      return;
    }
    const auto on_event = [this](std::string_view data) { on_event_data(data); };
    if (!sse_.feed(bytes, on_event) && !reported_) fail("malformed_sse", "an event-stream line over 16 MiB");
  }

  void on_event_data(std::string_view data) {
    if (reported_) return;
    const int64_t chunks_before = reader_.num_token_chunks();
    const StreamReader::Step step = reader_.on_data(data, now_s());
    if (reader_.num_token_chunks() > chunks_before && client_.on_token_) client_.on_token_();
    if (step == StreamReader::Step::kDone) succeed();
    if (step == StreamReader::Step::kError) fail(reader_.error_class().c_str(), reader_.error_message());
  }

  void on_message_end() {
    if (!reported_) {
      if (is_stream_) {
        sse_.finish([this](std::string_view data) { on_event_data(data); });
        if (!reported_ && reader_.saw_finish_reason()) succeed();
        if (!reported_) fail("truncated_stream", "the stream ended without [DONE] or a finish_reason");
      } else if (status_ == 200) {
        fail("not_event_stream", "the response is not text/event-stream: " + error_message_of(error_body_));
      } else {
        fail_keeping_connection("http_" + std::to_string(status_), error_message_of(error_body_));
      }
    }
    if (closed_) return;
    timer_.cancel();
    if (parser_->get().keep_alive()) {
      client_.put_idle(std::move(stream_));
    } else {
      close();
    }
  }

  void succeed() {
    if (reader_.num_token_chunks() == 0) return fail("no_tokens", "the stream ended without a token");
    RequestRecord r;
    r.ok = true;
    r.e2e_s = now_s();
    const std::vector<double>& t = reader_.token_times_s();
    r.ttft_s = t.front();
    for (size_t i = 1; i < t.size(); ++i) r.itl_s.push_back(t[i] - t[i - 1]);
    r.tokens_from_usage = reader_.usage_completion_tokens().has_value();
    r.output_tokens = reader_.usage_completion_tokens().value_or(reader_.num_token_chunks());
    r.prompt_tokens = reader_.usage_prompt_tokens().value_or(prompt_tokens_);
    report(std::move(r));
  }

  void retry_or_fail(const std::string& message) {
    if (reused_ && !retried_) {
      retried_ = true;  // the pooled connection had gone stale
      stream_->socket().close();
      buffer_.consume(buffer_.size());
      acquire(/*allow_idle=*/false);
      return;
    }
    fail("disconnected", message);
  }

  void fail(std::string error_class, std::string message) {
    fail_keeping_connection(std::move(error_class), std::move(message));
    close();
  }

  void fail_keeping_connection(std::string error_class, std::string message) {
    RequestRecord r;
    r.error_class = std::move(error_class);
    r.error_message = std::move(message);
    r.e2e_s = now_s();
    report(std::move(r));
  }

  void on_timeout() {
    if (!reported_) {
      fail("timeout", "no complete response within " + std::to_string(client_.config_.timeout_s) + " s");
    } else {
      close();
    }
  }

  void report(RequestRecord r) {
    reported_ = true;
    Done done = std::move(done_);
    done(std::move(r));
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    if (stream_) {
      error_code ignored;
      stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream_->socket().close(ignored);
    }
  }

  StreamClient& client_;
  asio::steady_timer timer_;
  std::string target_, body_;
  StreamReader reader_;
  int64_t prompt_tokens_;
  Done done_;
  Clock::time_point started_;
  std::unique_ptr<beast::tcp_stream> stream_;
  http::request<http::string_body> request_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::buffer_body>> parser_;
  char chunk_[16 << 10];
  SseParser sse_;
  std::string error_body_;
  unsigned status_ = 0;
  bool is_stream_ = false;
  bool reused_ = false, retried_ = false;
  bool reported_ = false, closed_ = false;
};

StreamClient::StreamClient(asio::io_context& io, StreamClientConfig config) : io_(io), config_(std::move(config)) {
  tcp::resolver resolver(io_);
  error_code ec;
  endpoints_ = resolver.resolve(config_.url.host, config_.url.port, ec);
  if (ec) throw error("cannot resolve ", config_.url.host, ": ", ec.message());
}

StreamClient::~StreamClient() = default;

void StreamClient::send(std::string target, std::string body, Endpoint endpoint, int64_t prompt_tokens, Done done) {
  std::make_shared<Exchange>(*this, std::move(target), std::move(body), endpoint, prompt_tokens, std::move(done))
      ->start();
}

std::unique_ptr<beast::tcp_stream> StreamClient::take_idle() {
  if (idle_.empty()) return nullptr;
  std::unique_ptr<beast::tcp_stream> s = std::move(idle_.back());
  idle_.pop_back();
  return s;
}

void StreamClient::put_idle(std::unique_ptr<beast::tcp_stream> stream) {
  if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(stream));
}

}  // namespace tern::loadgen
