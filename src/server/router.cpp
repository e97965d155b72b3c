#include "server/router.h"

#include <string_view>

#include "base/echo.h"
#include "base/log.h"
#include "server/access.h"
#include "server/api_error.h"
#include "server/cors.h"
#include "server/handlers.h"
#include "server/url_path.h"

namespace tern::server {
namespace {

struct Route {
  std::string_view path;
  bool prefix;  // path is a prefix ending in '/': "/v1/models/" matches "/v1/models/x"
  const char* method;
  bool is_public;  // served without the API key
  Handler handler;
};

// Anything not listed here, and everything listed that is not public, needs the key.
constexpr Route kRoutes[] = {
    {"/", false, "GET", true, handle_web},
    {"/index.html", false, "GET", true, handle_web},
    {"/app.js", false, "GET", true, handle_web},
    {"/style.css", false, "GET", true, handle_web},
    {"/favicon.svg", false, "GET", true, handle_web},
    {"/dashboard", false, "GET", true, handle_web},
    {"/dashboard.html", false, "GET", true, handle_web},
    {"/dashboard.js", false, "GET", true, handle_web},
    {"/health", false, "GET", true, handle_health},
    {"/metrics", false, "GET", false, handle_metrics},
    {"/v1/models", false, "GET", false, handle_models},
    {"/v1/models/", true, "GET", false, handle_models},
    {"/v1/completions", false, "POST", false, handle_completions},
    {"/v1/chat/completions", false, "POST", false, handle_chat_completions},
    {"/tokenize", false, "POST", false, handle_tokenize},
    {"/detokenize", false, "POST", false, handle_detokenize},
};

const Route* find_route(std::string_view path) {
  for (const Route& route : kRoutes) {
    if (route.prefix ? path.starts_with(route.path) && path.size() > route.path.size() : path == route.path) {
      return &route;
    }
  }
  return nullptr;
}

void route(HttpRequest& request, ServerState& state, const std::shared_ptr<ResponseChannel>& channel) {
  const ServerConfig& config = state.config();
  std::optional<std::string> path = normalize_path(request.target);
  if (!path) throw ApiError(ApiErrorKind::kInvalidRequest, "The request target is not a valid path.");
  request.path = std::move(*path);
  if (is_loopback_host(config.host) && !host_allowed(request.host, config.host)) {
    throw ApiError(ApiErrorKind::kForbidden, "This server only answers requests addressed to localhost.", std::nullopt,
                   "host_not_allowed");
  }
  if (request.method == "OPTIONS") {
    // Preflights carry no credentials; they learn only the CORS policy, which is the same
    // for every path, so they cannot tell routes from other paths.
    HttpResponse response;
    response.status = 204;
    response.content_type.clear();
    response.headers = cors_preflight_headers(config.allowed_origins, request.origin);
    channel->send(std::move(response));
    return;
  }
  const Route* found = find_route(request.path);
  if ((!found || !found->is_public) && !config.api_key.empty() &&
      !bearer_matches(request.authorization, config.api_key)) {
    throw ApiError(ApiErrorKind::kAuthentication,
                   "Incorrect API key provided. Send it as \"Authorization: Bearer <key>\".", std::nullopt,
                   "invalid_api_key");
  }
  if (!found)
    throw ApiError(ApiErrorKind::kNotFound, "No such route: " + echo(request.path), std::nullopt, "not_found");
  // HEAD is GET without the body (the session leaves it out): load balancers probe with it.
  const std::string_view method = request.method == "HEAD" ? "GET" : std::string_view(request.method);
  if (method != found->method) {
    ApiError error(
        ApiErrorKind::kMethodNotAllowed,
        "Method " + echo(request.method) + " is not allowed on " + echo(request.path) + "; use " + found->method + ".",
        std::nullopt, "method_not_allowed");
    HttpResponse response = error_response(error);
    response.headers.emplace_back("Allow",
                                  std::string(found->method) == "GET" ? "GET, HEAD, OPTIONS" : "POST, OPTIONS");
    channel->send(std::move(response));
    return;
  }
  found->handler(request, state, channel);
}

}  // namespace

void dispatch(HttpRequest& request, ServerState& state, const std::shared_ptr<ResponseChannel>& channel) {
  try {
    route(request, state, channel);
  } catch (...) {
    respond_error(channel, std::current_exception(), request.request_id);
  }
}

}  // namespace tern::server
