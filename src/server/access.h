// Who may call: the API key and the Host check on loopback binds.
#pragma once

#include <string>
#include <string_view>

namespace tern::server {

// Whether `authorization` is exactly "Bearer <api_key>" (the scheme spelled so, one
// space, the key byte for byte). The time taken depends only on the length of what the
// client sent, never on how much of the key it got right.
bool bearer_matches(std::string_view authorization, std::string_view api_key);

// Whether the server listens on a loopback address (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(std::string_view bind_host);

// On a loopback bind, only Host headers naming the machine itself are served
// (localhost, 127.x.x.x, [::1], or the bind host, with any port): a web page on another
// site that reaches 127.0.0.1 through DNS rebinding sends its own host name and is
// refused. A missing Host (HTTP/1.0) is allowed.
bool host_allowed(std::string_view host_header, std::string_view bind_host);

}  // namespace tern::server
