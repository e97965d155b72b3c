// GET / (the chat page), /dashboard and their files, from the copies compiled into the binary.
#include <string_view>

#include "server/api_error.h"
#include "server/handlers.h"
#include "server/web_assets.h"

namespace tern::server {

namespace {

// The pages' short addresses.
std::string_view asset_path(std::string_view path) {
  if (path == "/") return "/index.html";
  if (path == "/dashboard") return "/dashboard.html";
  return path;
}

}  // namespace

void handle_web(HttpRequest& http, ServerState&, const std::shared_ptr<ResponseChannel>& channel) {
  const std::string_view path = asset_path(http.path);
  for (const WebAsset& asset : web_asset_table()) {
    if (asset.path != path) continue;
    HttpResponse response;
    response.content_type = std::string(asset.content_type);
    response.body = std::string(asset.bytes);
    response.headers = {{"Cache-Control", "no-cache"},
                        {"X-Content-Type-Options", "nosniff"},
                        {"Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"}};
    channel->send(std::move(response));
    return;
  }
  throw ApiError(ApiErrorKind::kNotFound, "No such page.", std::nullopt, "not_found");
}

}  // namespace tern::server
