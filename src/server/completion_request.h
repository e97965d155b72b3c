// POST /v1/completions: the body -> ValidRequest. The prompt may be a string, a list of
// strings, a list of token ids or a list of such lists; each becomes one engine request.
#pragma once

#include "server/json_body.h"
#include "server/prompt_tokens.h"
#include "server/served_model.h"
#include "server/valid_request.h"

namespace tern::server {

// Throws ApiError 400 (field named) or 404 (unknown model).
ValidRequest parse_completion_request(const Json& body, const ServedModel& model, const PrepareOptions& prepare = {});

}  // namespace tern::server
