// Endpoint handlers, one file per family. Each answers through `channel`, at once or
// later (generation). They throw ApiError for anything the client did wrong; the router
// turns that into the response (api_error.h). A handler may take the request's body (and
// its body lease) for work it does later.
#pragma once

#include <memory>

#include "server/http_types.h"
#include "server/response_channel.h"
#include "server/server_state.h"

namespace tern::server {

using Handler = void (*)(HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);

// generation_handlers.cpp
void handle_completions(HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);
void handle_chat_completions(HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);
// models_handler.cpp: /v1/models and /v1/models/{id}
void handle_models(HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);
// tokenize_handlers.cpp
void handle_tokenize(HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);
void handle_detokenize(HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);
// health_metrics_handlers.cpp: /health and /metrics
void handle_health(HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);
void handle_metrics(HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);
// web_handler.cpp: the chat page
void handle_web(HttpRequest&, ServerState&, const std::shared_ptr<ResponseChannel>&);

// Shared by handlers: the loaded model, or 503 (loading, draining or failed engine).
std::shared_ptr<const ServedModel> require_model(const ServerState& state);
// 415 unless the body is declared application/json.
void require_json_body(const HttpRequest& request);
// Runs `work` on the preprocessing pool with the request's body, which it takes (with its
// body lease, given back when `work` ends). Throws ApiError 503 server_overloaded when the
// pool's queue is full. If the client leaves first, the work is dropped from the queue, or
// its CancelFlag set while it runs (tokenization then throws Cancelled, and nothing is
// answered); the leaving counts as a client disconnect. `work` answers through `channel`
// itself (post()), and must catch its own errors but Cancelled.
using PreprocessWork = std::function<void(const std::string& body, const CancelFlag& cancel)>;
void preprocess(HttpRequest& request, ServerState& state, const std::shared_ptr<ResponseChannel>& channel,
                PreprocessWork work);
// preprocess() for a handler whose answer is one response: `work`'s (or the error it
// throws) goes back through `channel`.
void respond_later(HttpRequest& request, ServerState& state, const std::shared_ptr<ResponseChannel>& channel,
                   std::function<HttpResponse(const std::string& body, const CancelFlag& cancel)> work);
// The error of `error` as a response on `channel` (the one mapping, api_error.h).
void respond_error(const std::shared_ptr<ResponseChannel>& channel, std::exception_ptr error,
                   const std::string& request_id);
HttpResponse json_response(const nlohmann::ordered_json& body, unsigned status = 200);

}  // namespace tern::server
