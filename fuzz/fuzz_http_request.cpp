// libFuzzer target: the server's request side on arbitrary bytes, without sockets.
//   1. Beast's HTTP/1.1 parser with the server's limits (16 KiB of headers, a body limit).
//   2. A parsed request through the router (path normalisation, Host check, CORS, the API
//      key, routes, methods) on a server still loading its model: exactly one response,
//      and every error response an OpenAI error body.
//   3. The body through JSON parsing and OpenAI request validation for both generation
//      endpoints, against the tiny model: only ApiError may come out (anything else would
//      be a 500 in the server).
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <fstream>
#include <iterator>

#include "fuzz_support.h"
#include "server/api_error.h"
#include "server/chat_request.h"
#include "server/completion_request.h"
#include "server/router.h"

namespace http = boost::beast::http;
using namespace tern;
using namespace tern::server;

namespace {

class CollectingChannel : public ResponseChannel {
 public:
  void send(HttpResponse response) override { responses.push_back(std::move(response)); }
  void begin_stream(HttpResponse) override { __builtin_trap(); }  // nothing streams while loading
  void write(std::string_view) override {}
  void end_stream() override {}
  void on_cancel(std::function<void()>) override {}
  bool is_open() const override { return responses.empty(); }
  void post(std::function<void()> fn) override { fn(); }
  void post_after(std::chrono::milliseconds, std::function<void()>) override {}
  std::vector<HttpResponse> responses;
};

// Validation needs the engine's limits, never its model: this executor is never run.
class IdleExecutor : public ModelExecutor {
 public:
  std::vector<SampledToken> execute(const StepBatch&) override { __builtin_trap(); }
  const EngineSizes& sizes() const override { return sizes_; }

 private:
  EngineSizes sizes_{.block_size = 16,
                     .num_kv_blocks = 64,
                     .max_model_len = 512,
                     .max_num_batched_tokens = 512,
                     .max_num_seqs = 32,
                     .max_prompt_logprob_tokens = 0};
};

const ServedModel& tiny_model() {
  static const ServedModel* model = [] {
    auto m = new ServedModel();
    m->names = {"tiny-qwen2"};
    m->tokenizer = fuzz::tiny_tokenizer();
    m->engine = std::make_unique<Engine>(std::make_unique<IdleExecutor>(), m->tokenizer, EngineConfig{});
    std::ifstream f(TERN_TEST_DATA "/tokenizers/tiny-qwen/chat_template.jinja");
    const std::string source((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    m->chat_template = std::make_unique<const ChatTemplate>(source, ChatSpecialTokens{.eos_token = "<|im_end|>"});
    return m;
  }();
  return *model;
}

ServerState& loading_server() {
  static ServerState* state = [] {
    ServerConfig config;
    config.api_key = "sk-fuzz";
    config.allowed_origins = {"https://app.example"};
    return new ServerState(config);
  }();
  return *state;
}

void validate(const std::string& body) {
  try {
    const Json json = parse_json_body(body);
    try {
      parse_completion_request(json, tiny_model());
    } catch (const ApiError&) {
    }
    parse_chat_request(json, tiny_model());
  } catch (const ApiError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Arbitrary bytes as a body, and as a whole request.
  validate(std::string(fuzz::as_text(data, size)));

  http::request_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  parser.header_limit(16 << 10);
  parser.eager(true);
  boost::system::error_code ec;
  size_t used = 0;
  while (used < size && !parser.is_done()) {
    const size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec || n == 0) break;
    used += n;
  }
  if (ec || !parser.is_done()) return 0;
  http::request<http::string_body> message = parser.release();
  HttpRequest request{.method = std::string(message.method_string()),
                      .target = std::string(message.target()),
                      .content_type = std::string(message[http::field::content_type]),
                      .authorization = std::string(message[http::field::authorization]),
                      .host = std::string(message[http::field::host]),
                      .origin = std::string(message[http::field::origin]),
                      .body = message.body(),
                      .request_id = "0000000000000000"};
  auto channel = std::make_shared<CollectingChannel>();
  dispatch(request, loading_server(), channel);
  if (channel->responses.size() != 1) __builtin_trap();
  const HttpResponse& response = channel->responses[0];
  if (response.status >= 400) {
    const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object() || !body.contains("error") || !body["error"].contains("message")) __builtin_trap();
  }
  validate(request.body);
  return 0;
}
