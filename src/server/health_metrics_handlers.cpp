// GET /health (public, minimal) and GET /metrics (Prometheus text; needs the key when
// one is set).
#include "server/handlers.h"

namespace tern::server {

void handle_health(HttpRequest&, ServerState& state, const std::shared_ptr<ResponseChannel>& channel) {
  require_model(state);  // 503 while loading, draining, or after an engine failure
  channel->send(json_response({{"status", "ok"}}));
}

void handle_metrics(HttpRequest&, ServerState& state, const std::shared_ptr<ResponseChannel>& channel) {
  const std::shared_ptr<const ServedModel> model = state.model();
  HttpResponse response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  const IntakeStats intake{.preprocess_queued = state.preprocess_pool().queued(),
                           .body_bytes = state.body_budget().held()};
  if (model) {
    const EngineStats stats = model->engine->stats();
    response.body = state.metrics().render(&stats, intake);
  } else {
    response.body = state.metrics().render(nullptr, intake);
  }
  channel->send(std::move(response));
}

}  // namespace tern::server
