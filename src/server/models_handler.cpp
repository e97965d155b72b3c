// GET /v1/models and GET /v1/models/{id}: the one served model.
#include "server/api_error.h"
#include "server/handlers.h"

namespace tern::server {

nlohmann::ordered_json SamplingDefaults::to_json() const {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  if (temperature) out["temperature"] = *temperature;
  if (top_p) out["top_p"] = *top_p;
  if (top_k) out["top_k"] = *top_k;
  if (min_p) out["min_p"] = *min_p;
  if (repetition_penalty) out["repetition_penalty"] = *repetition_penalty;
  return out;
}

void handle_models(HttpRequest& http, ServerState& state, const std::shared_ptr<ResponseChannel>& channel) {
  const std::shared_ptr<const ServedModel> model = require_model(state);
  const nlohmann::ordered_json card = {{"id", model->name},
                                       {"object", "model"},
                                       {"created", model->created},
                                       {"owned_by", "tern"},
                                       {"root", model->name},
                                       {"max_model_len", model->max_model_len()},
                                       {"sampling_defaults", model->sampling_defaults.to_json()}};
  constexpr std::string_view kPrefix = "/v1/models/";
  if (http.path.starts_with(kPrefix)) {
    if (http.path.substr(kPrefix.size()) != model->name) {
      throw ApiError(ApiErrorKind::kNotFound, "The model does not exist; this server serves \"" + model->name + "\".",
                     "model", "model_not_found");
    }
    channel->send(json_response(card));
    return;
  }
  channel->send(json_response({{"object", "list"}, {"data", nlohmann::ordered_json::array({card})}}));
}

}  // namespace tern::server
