#include "loadgen/http_fetch.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>

#include "base/error.h"

namespace tern::loadgen {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

FetchResult http_fetch(const HttpUrl& url, std::string_view method, std::string_view target, double timeout_s,
                       std::string_view api_key, std::string_view json_body) {
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http::request<http::string_body> request{http::string_to_verb(beast::string_view(method.data(), method.size())),
                                           url.base_path + std::string(target), 11};
  request.set(http::field::host, url.host_header);
  request.set(http::field::user_agent, "tern-bench");
  if (!api_key.empty()) request.set(http::field::authorization, "Bearer " + std::string(api_key));
  if (!json_body.empty()) {
    request.set(http::field::content_type, "application/json");
    request.body() = json_body;
  }
  request.keep_alive(false);
  request.prepare_payload();
  http::response<http::string_body> response;

  error_code failure;
  std::string stage = "resolve";
  const auto deadline = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(timeout_s));
  resolver.async_resolve(url.host, url.port, [&](error_code ec, const tcp::resolver::results_type& endpoints) {
    if (ec) return void(failure = ec);
    stage = "connect";
    stream.expires_after(deadline);
    stream.async_connect(endpoints, [&](error_code ec, const tcp::endpoint&) {
      if (ec) return void(failure = ec);
      stage = "send";
      http::async_write(stream, request, [&](error_code ec, size_t) {
        if (ec) return void(failure = ec);
        stage = "read";
        http::async_read(stream, buffer, response, [&](error_code ec, size_t) { failure = ec; });
      });
    });
  });
  io.run();
  if (failure) {
    throw error(method, " ", url.text(), target, ": ", stage, " failed: ",
                failure == beast::error::timeout ? "no answer within " + std::to_string(timeout_s) + " s"
                                                 : failure.message());
  }
  return FetchResult{.status = response.result_int(), .body = std::move(response.body())};
}

}  // namespace tern::loadgen
