// GET /v1/models and GET /v1/models/{id}: the one served model.
#include "server/api_error.h"
#include "server/handlers.h"
#include "server/sampling_request.h"

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
  // One card per served name, as vLLM lists them; `root` is the model's id.
  const auto card = [&model](const std::string& name) {
    return nlohmann::ordered_json{{"id", name},
                                  {"object", "model"},
                                  {"created", model->created},
                                  {"owned_by", "tern"},
                                  {"root", model->id()},
                                  {"max_model_len", model->max_model_len()},
                                  {"sampling_defaults", model->sampling_defaults.to_json()}};
  };
  constexpr std::string_view kPrefix = "/v1/models/";
  if (http.path.starts_with(kPrefix)) {
    const std::string name(http.path.substr(kPrefix.size()));
    if (!model->serves(name)) throw model_not_found(*model);
    channel->send(json_response(card(name)));
    return;
  }
  nlohmann::ordered_json cards = nlohmann::ordered_json::array();
  for (const std::string& name : model->names) cards.push_back(card(name));
  channel->send(json_response({{"object", "list"}, {"data", std::move(cards)}}));
}

}  // namespace tern::server
