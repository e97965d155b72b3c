// CORS for browser clients on other origins, by allowlist only (--allowed-origins). With
// no allowlist no CORS header is ever sent, so browsers keep other sites out.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tern::server {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The headers for a response to a request from `origin` (the Origin header; empty when
// absent): Access-Control-Allow-Origin echoing an allowed origin ("*" when the list
// allows any), plus Vary: Origin. Empty when the origin is not allowed.
HeaderList cors_headers(const std::vector<std::string>& allowed_origins, std::string_view origin);

// What a preflight answer adds to cors_headers() (methods, request headers, max age),
// when the origin is allowed.
HeaderList cors_preflight_headers(const std::vector<std::string>& allowed_origins, std::string_view origin);

}  // namespace tern::server
