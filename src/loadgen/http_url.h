// The benchmark's --url: an http:// server root, as a user copies it from a server's log
// or an OpenAI base URL.
#pragma once

#include <string>
#include <string_view>

namespace tern::loadgen {

struct HttpUrl {
  std::string host;       // as written, without brackets for IPv6
  std::string port;       // "80" when not given
  std::string base_path;  // "" or "/prefix" (no trailing slash); a trailing /v1 is dropped
  std::string host_header;  // host[:port] as sent in Host
  std::string text() const { return "http://" + host_header + base_path; }
};

// Parses http://host[:port][/path]. A trailing "/v1" is dropped so an OpenAI base URL
// works; requests go to base_path + "/v1/...". Throws tern::Error for https (TLS is not
// supported: run the benchmark where the server's plain HTTP port is reachable) or a
// malformed URL.
HttpUrl parse_http_url(std::string_view url);

}  // namespace tern::loadgen
