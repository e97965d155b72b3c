#include "server/cors.h"

#include <algorithm>

namespace tern::server {
namespace {

bool allows_any(const std::vector<std::string>& allowed) { return std::ranges::find(allowed, "*") != allowed.end(); }

bool allowed(const std::vector<std::string>& allowed_origins, std::string_view origin) {
  return !origin.empty() &&
         (allows_any(allowed_origins) || std::ranges::find(allowed_origins, origin) != allowed_origins.end());
}

}  // namespace

HeaderList cors_headers(const std::vector<std::string>& allowed_origins, std::string_view origin) {
  if (!allowed(allowed_origins, origin)) return {};
  if (allows_any(allowed_origins)) return {{"Access-Control-Allow-Origin", "*"}};
  return {{"Access-Control-Allow-Origin", std::string(origin)}, {"Vary", "Origin"}};
}

HeaderList cors_preflight_headers(const std::vector<std::string>& allowed_origins, std::string_view origin) {
  HeaderList headers;
  if (!allowed(allowed_origins, origin)) return headers;
  headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
  headers.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type");
  headers.emplace_back("Access-Control-Max-Age", "600");
  return headers;
}

}  // namespace tern::server
