// The rules a request head must meet before its body is read (RFC 9112): framing that
// every reader of the bytes agrees on, and one Host.
//
// - Transfer-Encoding (§6.1, §6.3): tern decodes exactly one coding, "chunked". Any other
//   list ("xchunked", "chunked, identity", "gzip, chunked") would leave the body's length
//   unknown or disputed, and an HTTP/1.0 request may not use Transfer-Encoding at all: a
//   proxy in front that reads such a request differently from tern could smuggle a
//   second request inside the body. These are refused, and the connection closed.
// - Host (§3.2): an HTTP/1.1 request has exactly one non-empty Host; no request has two.
#pragma once

#include <boost/beast/http/fields.hpp>
#include <optional>

#include "server/api_error.h"

namespace tern::server {

// A 400 naming the broken rule, or nullopt. `version` is 10 for HTTP/1.0, 11 for HTTP/1.1.
std::optional<ApiError> check_request_head(const boost::beast::http::fields& fields, unsigned version);

}  // namespace tern::server
