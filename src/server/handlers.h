// Endpoint handlers, one file per family. Each answers through `channel`, at once or
// later (generation). They throw ApiError for anything the client did wrong; the router
// turns that into the response (api_error.h).
#pragma once

#include <memory>

#include "server/http_types.h"
#include "server/response_channel.h"
#include "server/server_state.h"

namespace tern::server {

using Handler = void (*)(const HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);

// generation_handlers.cpp
void handle_completions(const HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);
void handle_chat_completions(const HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);
// models_handler.cpp: /v1/models and /v1/models/{id}
void handle_models(const HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);
// tokenize_handlers.cpp
void handle_tokenize(const HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);
void handle_detokenize(const HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);
// health_metrics_handlers.cpp: /health and /metrics
void handle_health(const HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);
void handle_metrics(const HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);
// web_handler.cpp: the chat page
void handle_web(const HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);

// Shared by handlers: the loaded model, or 503 (loading, draining or failed engine).
std::shared_ptr<const ServedModel> require_model(const ServerState& state);
// 415 unless the body is declared application/json.
void require_json_body(const HttpRequest& request);
// Runs `work` on the preprocessing pool; its JSON response (or the error it throws) goes
// back through `channel`.
void respond_later(ServerState& state, const std::shared_ptr<ResponseChannel>& channel, const std::string& request_id,
                   std::function<HttpResponse()> work);
// The error of `error` as a response on `channel` (the one mapping, api_error.h).
void respond_error(const std::shared_ptr<ResponseChannel>& channel, std::exception_ptr error,
                   const std::string& request_id);
HttpResponse json_response(const nlohmann::ordered_json& body, unsigned status = 200);

}  // namespace tern::server
