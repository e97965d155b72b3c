// One blocking HTTP/1.1 exchange with a whole (non-streamed) response: the benchmark's
// side requests (/v1/models, /health, /metrics).
#pragma once

#include <string>
#include <string_view>

#include "loadgen/http_url.h"

namespace tern::loadgen {

struct FetchResult {
  unsigned status = 0;
  std::string body;
};

// Throws tern::Error naming the URL when the server cannot be reached or the exchange
// does not finish within timeout_s.
FetchResult http_fetch(const HttpUrl& url, std::string_view method, std::string_view target, double timeout_s,
                       std::string_view api_key = {}, std::string_view json_body = {});

}  // namespace tern::loadgen
