#include <algorithm>
#include <cctype>

#include "server/api_error.h"
#include "server/handlers.h"

namespace tern::server {

std::shared_ptr<const ServedModel> require_model(const ServerState& state) {
  switch (state.phase()) {
    case ServerPhase::kLoading:
      throw ApiError(ApiErrorKind::kUnavailable, "The model is still loading. Retry shortly.", std::nullopt,
                     "model_loading");
    case ServerPhase::kDraining:
      throw ApiError(ApiErrorKind::kUnavailable, "The server is shutting down.", std::nullopt, "shutting_down");
    case ServerPhase::kFailed:
      throw ApiError(ApiErrorKind::kUnavailable, "The model failed to load.", std::nullopt, "model_load_failed");
    case ServerPhase::kReady:
      break;
  }
  std::shared_ptr<const ServedModel> model = state.model();
  if (!model->engine->stats().healthy) {
    throw ApiError(ApiErrorKind::kUnavailable, "The engine has failed and accepts no requests.", std::nullopt,
                   "engine_failed");
  }
  return model;
}

void require_json_body(const HttpRequest& request) {
  std::string type = request.content_type.substr(0, request.content_type.find(';'));
  type.erase(std::remove_if(type.begin(), type.end(), [](unsigned char c) { return std::isspace(c); }), type.end());
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  if (type != "application/json") {
    throw ApiError(ApiErrorKind::kUnsupportedMediaType,
                   "The request body must be JSON, sent with \"Content-Type: application/json\".", std::nullopt,
                   "unsupported_media_type");
  }
}

HttpResponse json_response(const nlohmann::ordered_json& body, unsigned status) {
  HttpResponse response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

void respond_error(const std::shared_ptr<ResponseChannel>& channel, std::exception_ptr error,
                   const std::string& request_id) {
  channel->send(error_response(to_api_error(std::move(error), request_id)));
}

void preprocess(HttpRequest& request, ServerState& state, const std::shared_ptr<ResponseChannel>& channel,
                PreprocessWork work) {
  struct Held {
    std::string body;
    BodyBudget::Lease lease;
  };
  auto held = std::make_shared<Held>(Held{std::move(request.body), std::move(request.body_lease)});
  std::shared_ptr<PreprocessPool::Ticket> ticket =
      state.preprocess_pool().submit([held = std::move(held), work = std::move(work)](const CancelFlag& cancel) {
        try {
          work(held->body, cancel);
        } catch (const Cancelled&) {
          // The client has left: there is no one to answer.
        }
      });
  if (!ticket) {
    state.metrics().count_shed(ShedReason::kPreprocessQueue);
    throw ApiError(ApiErrorKind::kOverloaded,
                   "The server is overloaded: too many requests are waiting to be prepared. Retry later.", std::nullopt,
                   "server_overloaded");
  }
  channel->on_cancel([ticket, &metrics = state.metrics()] {
    ticket->cancel();
    metrics.count_client_disconnect();
  });
}

void respond_later(HttpRequest& request, ServerState& state, const std::shared_ptr<ResponseChannel>& channel,
                   std::function<HttpResponse(const std::string& body, const CancelFlag& cancel)> work) {
  preprocess(request, state, channel,
             [channel, request_id = request.request_id, work = std::move(work)](const std::string& body,
                                                                                const CancelFlag& cancel) {
               std::exception_ptr error;
               HttpResponse response;
               try {
                 response = work(body, cancel);
               } catch (const Cancelled&) {
                 throw;
               } catch (...) {
                 error = std::current_exception();
               }
               channel->post([channel, request_id, error, response = std::move(response)]() mutable {
                 if (error) {
                   respond_error(channel, error, request_id);
                 } else {
                   channel->send(std::move(response));
                 }
               });
             });
}

}  // namespace tern::server
