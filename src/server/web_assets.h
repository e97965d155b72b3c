// The chat page's and the dashboard's files, compiled into the binary from web/ (embed_web.cmake).
#pragma once

#include <span>
#include <string_view>

namespace tern::server {

struct WebAsset {
  std::string_view path;  // "/index.html"
  std::string_view content_type;
  std::string_view bytes;
};

std::span<const WebAsset> web_asset_table();

}  // namespace tern::server
