#include "server/access.h"

#include <algorithm>
#include <cctype>

namespace tern::server {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool is_ipv4_loopback(std::string_view host) {
  if (!host.starts_with("127.")) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

// "host:port" / "[v6]:port" -> host (brackets kept for v6).
std::string_view strip_port(std::string_view host) {
  if (host.starts_with('[')) {
    const size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  const size_t colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

}  // namespace

bool bearer_matches(std::string_view authorization, std::string_view api_key) {
  constexpr std::string_view kScheme = "Bearer ";
  // Every byte the client sent is compared, against the expected header cycled to its
  // length; the loop never exits early and the length mismatch is folded in at the end.
  const std::string expected = std::string(kScheme) + std::string(api_key);
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < authorization.size(); ++i) {
    diff = diff | static_cast<unsigned char>(authorization[i] ^ expected[i % expected.size()]);
  }
  return diff == 0 && authorization.size() == expected.size();
}

bool is_loopback_host(std::string_view bind_host) {
  const std::string host = lower(bind_host);
  return host == "localhost" || host == "::1" || host == "[::1]" || is_ipv4_loopback(host);
}

bool host_allowed(std::string_view host_header, std::string_view bind_host) {
  if (host_header.empty()) return true;
  const std::string host = lower(strip_port(host_header));
  return host == "localhost" || host == "[::1]" || is_ipv4_loopback(host) || host == lower(bind_host);
}

}  // namespace tern::server
