// From a parsed request to a handler: path normalisation, the Host check, CORS
// preflight, authentication, the route table, and the method check, in that order; then
// the handler, with any error it throws answered through the one error mapping.
#pragma once

#include <memory>

#include "server/http_types.h"
#include "server/response_channel.h"
#include "server/server_state.h"

namespace tern::server {

// Fills request.path and answers through `channel` (at once or later).
void dispatch(HttpRequest& request, ServerState& state, const std::shared_ptr<ResponseChannel>& channel);

}  // namespace tern::server
