#include "loadgen/http_url.h"

#include <charconv>

#include "base/error.h"

namespace tern::loadgen {

HttpUrl parse_http_url(std::string_view url) {
  const std::string original(url);
  if (url.starts_with("https://")) {
    throw error("--url ", original, ": https is not supported; give the server's plain http:// address");
  }
  if (!url.starts_with("http://")) throw error("--url ", original, ": expected http://host[:port]");
  url.remove_prefix(7);
  const size_t slash = url.find('/');
  const std::string_view authority = url.substr(0, slash);
  std::string path(slash == std::string_view::npos ? std::string_view() : url.substr(slash));
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.ends_with("/v1")) path.resize(path.size() - 3);

  HttpUrl out;
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) throw error("--url ", original, ": unterminated IPv6 address");
    out.host = authority.substr(1, close - 1);
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') throw error("--url ", original, ": expected ':' after the IPv6 address");
      port = rest.substr(1);
    }
  } else {
    const size_t colon = authority.find(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) throw error("--url ", original, ": no host");
  int value = 0;
  if (!port.empty()) {
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
      throw error("--url ", original, ": bad port '", port, "'");
    }
  }
  out.port = port.empty() ? "80" : std::string(port);
  out.host_header = (out.host.find(':') != std::string::npos ? "[" + out.host + "]" : out.host) +
                    (port.empty() ? "" : ":" + out.port);
  out.base_path = path;
  return out;
}

}  // namespace tern::loadgen
