// POST /v1/completions and POST /v1/chat/completions: validate (on the preprocessing
// pool: JSON, chat template and tokenizer can be slow), then run a Generation whose sink
// is SSE or the JSON aggregator.
#include <chrono>

#include "server/chat_request.h"
#include "server/completion_request.h"
#include "server/generation.h"
#include "server/handlers.h"
#include "server/json_response_writer.h"
#include "server/sse_writer.h"

namespace tern::server {
namespace {

void start_generation(ValidRequest request, std::shared_ptr<const ServedModel> model, ServerState& state,
                      const std::shared_ptr<ResponseChannel>& channel, const std::string& request_id) {
  const RequestApi api = request.api;
  ChunkHeader header{
      .id = (api == RequestApi::kChat ? "chatcmpl-" : "cmpl-") + request_id,
      .created =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count(),
      .model = model->id(),
      .usage_field = request.stream && request.include_usage};
  std::unique_ptr<ChunkBuilder> builder = make_chunk_builder(request, std::move(header), model->tokenizer);
  std::unique_ptr<GenerationSink> sink;
  if (request.stream) {
    sink = std::make_unique<SseWriter>(channel);
  } else {
    sink = std::make_unique<JsonResponseWriter>(api, channel);
  }
  const std::chrono::milliseconds keep_alive =
      request.stream ? state.config().sse_ping_interval : std::chrono::milliseconds{};
  auto generation = std::make_shared<Generation>(std::move(model), std::move(request), std::move(builder),
                                                 std::move(sink), channel, state.metrics(), request_id, keep_alive);
  try {
    generation->start();
  } catch (...) {
    respond_error(channel, std::current_exception(), request_id);
    return;
  }
  channel->on_cancel([generation] { generation->cancel(); });
}

void serve_generation(HttpRequest& http, ServerState& state, const std::shared_ptr<ResponseChannel>& channel,
                      RequestApi api) {
  std::shared_ptr<const ServedModel> model = require_model(state);
  require_json_body(http);
  preprocess(http, state, channel,
             [&state, channel, api, model = std::move(model), id = http.request_id](const std::string& body,
                                                                                    const CancelFlag& cancel) {
               const PrepareOptions prepare{
                   .split_special_tokens_in_content = state.config().split_special_tokens_in_content,
                   .cancel = &cancel};
               std::exception_ptr error;
               ValidRequest request;
               try {
                 const Json json = parse_json_body(body);
                 request = api == RequestApi::kChat ? parse_chat_request(json, *model, prepare)
                                                    : parse_completion_request(json, *model, prepare);
               } catch (const Cancelled&) {
                 throw;
               } catch (...) {
                 error = std::current_exception();
               }
               channel->post([&state, channel, error, model, request = std::move(request), id]() mutable {
                 if (!channel->is_open()) return;  // the client left while the request was prepared
                 if (error) {
                   respond_error(channel, error, id);
                 } else {
                   start_generation(std::move(request), std::move(model), state, channel, id);
                 }
               });
             });
}

}  // namespace

void handle_completions(HttpRequest& http, ServerState& state, const std::shared_ptr<ResponseChannel>& channel) {
  serve_generation(http, state, channel, RequestApi::kCompletions);
}

void handle_chat_completions(HttpRequest& http, ServerState& state, const std::shared_ptr<ResponseChannel>& channel) {
  serve_generation(http, state, channel, RequestApi::kChat);
}

}  // namespace tern::server
