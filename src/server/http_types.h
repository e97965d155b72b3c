// The HTTP request and response as handlers see them: plain data, no Beast types, so
// handlers and their tests do not depend on the transport.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "server/body_budget.h"

namespace tern::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent, path and query
  std::string path;    // normalised by the router (url_path.h): what routing and auth both use
  std::string content_type;
  std::string authorization;
  std::string host;
  std::string origin;
  std::string body;
  BodyBudget::Lease body_lease;  // the body's bytes in the server-wide budget, until it is dropped
  std::string request_id;        // ours, for logs and 500 bodies
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // beyond Content-Type/Length
  std::string body;
};

}  // namespace tern::server
