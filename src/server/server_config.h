// What `tern serve` configures about the HTTP side. Engine sizing lives in the app's
// EngineOptions.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tern::server {

struct ServerConfig {
  std::string host = "127.0.0.1";  // loopback unless asked: the API has no auth by default
  uint16_t port = 8000;            // 0: any free port (the bound one is logged)
  std::string api_key;             // empty: no authentication
  // Origins allowed to call the API from a browser (CORS); empty: no CORS headers at all.
  // "*" allows any origin (no credentials are ever allowed).
  std::vector<std::string> allowed_origins;
  std::vector<std::string> served_model_names;  // empty: the model folder's name (or repo id)
  int io_threads = 2;                           // event loop threads for all connections
  int preprocess_threads = 2;                   // JSON parsing, chat templates, tokenization
  size_t max_preprocess_queue = 256;            // requests waiting for those threads (503 beyond)
  size_t max_request_bytes = size_t{8} << 20;   // body limit (413 beyond)
  // Request bodies held at once, all connections together: being received, or waiting
  // for or in preprocessing (503 beyond). At least max_request_bytes.
  size_t max_pending_body_bytes = size_t{64} << 20;
  // Special-token strings inside message contents (and tools) are plain text; the chat
  // template's own markers stay special (every chat request as if it sent
  // "split_special_tokens": true).
  bool split_special_tokens_in_content = false;
  size_t max_header_bytes = size_t{16} << 10;         // request line + headers (431 beyond)
  size_t max_header_count = 100;                      // header fields per request (431 beyond)
  size_t max_buffered_write_bytes = size_t{4} << 20;  // unsent bytes per connection before it counts as stalled
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};       // keep-alive wait for the next request
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};     // first byte to end of headers
  std::chrono::milliseconds body_timeout{std::chrono::seconds(60)};       // end of headers to end of body
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};      // one write making no progress
  std::chrono::milliseconds shutdown_timeout{std::chrono::seconds(30)};   // in-flight requests get this long
  std::chrono::milliseconds sse_ping_interval{std::chrono::seconds(10)};  // idle streams get a comment; 0: never
};

}  // namespace tern::server
