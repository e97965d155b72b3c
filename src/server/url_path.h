// The one normalised form of a request path, used by routing and by authentication
// alike, so no spelling of a path can reach a handler while skipping the key check
// ("//v1/models", "/v1/./models", "/v1/%6dodels" and "/v1/models/" all read "/v1/models").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tern::server {

// The path of `target` (query and fragment dropped): percent-decoded, "." and ".."
// segments resolved (never above the root), empty segments and the trailing slash
// dropped. nullopt for a target that is not a path ("*", "http://..."), a bad %-escape
// or an encoded NUL. Case is kept: routes are case-sensitive.
std::optional<std::string> normalize_path(std::string_view target);

}  // namespace tern::server
