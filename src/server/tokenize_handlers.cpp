// POST /tokenize and POST /detokenize in vLLM's shapes:
//   /tokenize {"prompt": str, "add_special_tokens": true} or {"messages": [...],
//   "add_generation_prompt": true, "tools": ...} -> {"count", "max_model_len", "tokens",
//   "token_strs"}; /detokenize {"tokens": [ids]} -> {"prompt": str}.
#include "server/api_error.h"
#include "server/chat_request.h"
#include "server/handlers.h"
#include "server/prompt_tokens.h"
#include "server/sampling_request.h"

namespace tern::server {
namespace {

HttpResponse tokenize(const std::string& body, const ServedModel& model, const PrepareOptions& prepare) {
  const Json json = parse_json_body(body);
  const JsonFields fields = request_fields(json, "");
  check_model_field(fields, model);
  std::vector<int32_t> ids;
  if (fields.has("messages")) {
    if (fields.has("prompt")) throw invalid_param("prompt", "give either prompt or messages, not both");
    ids = build_chat_prompt(fields, model, prepare).token_ids;
  } else {
    const std::optional<std::string> prompt = fields.string("prompt", std::string::npos);
    if (!prompt) throw invalid_param("prompt", "is required (or messages)");
    ids = encode_prompt(*model.tokenizer, *prompt,
                        {.add_special_tokens = fields.boolean("add_special_tokens").value_or(true),
                         .split_special_tokens = read_split_special_tokens(fields),
                         .cancel = prepare.cancel},
                        "prompt");
  }
  Json response = {{"count", ids.size()}, {"max_model_len", model.max_model_len()}, {"tokens", ids}};
  if (fields.boolean("return_token_strs").value_or(false)) {
    Json strs = Json::array();
    for (int32_t id : ids) strs.push_back(model.tokenizer->id_to_token(id));
    response["token_strs"] = std::move(strs);
  } else {
    response["token_strs"] = nullptr;
  }
  return json_response(response);
}

HttpResponse detokenize(const std::string& body, const ServedModel& model) {
  const Json json = parse_json_body(body);
  const JsonFields fields = request_fields(json, "");
  check_model_field(fields, model);
  const Json* tokens = fields.find("tokens");
  if (!tokens || !tokens->is_array()) throw invalid_param("tokens", "expected an array of token ids");
  std::vector<int32_t> ids;
  ids.reserve(tokens->size());
  for (size_t i = 0; i < tokens->size(); ++i) {
    const std::optional<int64_t> id = json_int64((*tokens)[i], /*integral_floats=*/true);
    if (!id || *id < 0 || *id >= model.tokenizer->vocab_size()) {
      throw invalid_param("tokens[" + std::to_string(i) + "]",
                          "token ids must be integers in [0, " + std::to_string(model.tokenizer->vocab_size()) + ")");
    }
    ids.push_back(static_cast<int32_t>(*id));
  }
  return json_response({{"prompt", model.tokenizer->decode(ids, /*skip_special_tokens=*/false)}});
}

}  // namespace

void handle_tokenize(HttpRequest& http, ServerState& state, const std::shared_ptr<ResponseChannel>& channel) {
  std::shared_ptr<const ServedModel> model = require_model(state);
  require_json_body(http);
  respond_later(http, state, channel,
                [model, split = state.config().split_special_tokens_in_content](const std::string& body,
                                                                                const CancelFlag& cancel) {
                  return tokenize(body, *model, {.split_special_tokens_in_content = split, .cancel = &cancel});
                });
}

void handle_detokenize(HttpRequest& http, ServerState& state, const std::shared_ptr<ResponseChannel>& channel) {
  std::shared_ptr<const ServedModel> model = require_model(state);
  require_json_body(http);
  respond_later(http, state, channel,
                [model](const std::string& body, const CancelFlag&) { return detokenize(body, *model); });
}

}  // namespace tern::server
