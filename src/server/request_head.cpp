#include "server/request_head.h"

#include <boost/beast/core/string.hpp>
#include <string>
#include <string_view>

namespace tern::server {
namespace http = boost::beast::http;
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

ApiError bad_framing(const std::string& why) {
  return ApiError(ApiErrorKind::kInvalidRequest, "The request's Transfer-Encoding " + why +
                                                     "; tern reads bodies sent with Content-Length or with "
                                                     "\"Transfer-Encoding: chunked\" alone (HTTP/1.1).");
}

// Whether the Transfer-Encoding fields, joined, list exactly one coding: "chunked".
bool chunked_alone(const http::fields& fields) {
  int codings = 0;
  bool chunked = false;
  for (auto [it, end] = fields.equal_range(http::field::transfer_encoding); it != end; ++it) {
    std::string_view list(it->value().data(), it->value().size());
    while (true) {
      const size_t comma = list.find(',');
      const std::string_view coding = trim(list.substr(0, comma));
      if (!coding.empty()) {
        ++codings;
        chunked = boost::beast::iequals(boost::beast::string_view(coding.data(), coding.size()), "chunked");
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return codings == 1 && chunked;
}

}  // namespace

std::optional<ApiError> check_request_head(const http::fields& fields, unsigned version) {
  if (fields.count(http::field::transfer_encoding) > 0) {
    if (version < 11) return bad_framing("is not allowed on HTTP/1.0");
    if (!chunked_alone(fields)) return bad_framing("is not supported");
  }
  const size_t hosts = fields.count(http::field::host);
  if (hosts > 1) {
    return ApiError(ApiErrorKind::kInvalidRequest,
                    "The request has " + std::to_string(hosts) + " Host headers; it may have only one.");
  }
  const auto host = fields[http::field::host];
  if (version >= 11 && (hosts == 0 || trim(std::string_view(host.data(), host.size())).empty())) {
    return ApiError(ApiErrorKind::kInvalidRequest, "An HTTP/1.1 request must have a Host header naming the server.");
  }
  return std::nullopt;
}

}  // namespace tern::server
