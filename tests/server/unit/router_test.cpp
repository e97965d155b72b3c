// The router and handlers without a socket or a model: what the server answers while
// the model loads, and the order of its checks (Host, auth, route, method).
#include "server/router.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace tern::server {
namespace {

class FakeChannel : public ResponseChannel {
 public:
  void send(HttpResponse response) override { responses.push_back(std::move(response)); }
  void begin_stream(HttpResponse) override { ADD_FAILURE() << "no stream expected"; }
  void write(std::string_view) override {}
  void end_stream() override {}
  void on_cancel(std::function<void()>) override {}
  bool is_open() const override { return responses.empty(); }
  void post(std::function<void()> fn) override { fn(); }
  void post_after(std::chrono::milliseconds, std::function<void()>) override {}

  std::vector<HttpResponse> responses;
};

struct Answer {
  unsigned status;
  nlohmann::json body;
  std::string raw;
};

Answer call(ServerState& state, const std::string& method, const std::string& target,
            const std::string& authorization = "", const std::string& host = "127.0.0.1:8000") {
  HttpRequest request{.method = method,
                      .target = target,
                      .content_type = "application/json",
                      .authorization = authorization,
                      .host = host,
                      .body = "{}",
                      .request_id = "test"};
  auto channel = std::make_shared<FakeChannel>();
  dispatch(request, state, channel);
  EXPECT_EQ(channel->responses.size(), 1u);
  const HttpResponse& r = channel->responses.at(0);
  return {r.status, nlohmann::json::parse(r.body, nullptr, false), r.body};
}

ServerState loading_state(const std::string& api_key = "") {
  ServerConfig config;
  config.api_key = api_key;
  return ServerState(config);
}

TEST(Router, WhileLoadingHealthAndApiAnswer503AndMetricsSayNotLoaded) {
  ServerState state = loading_state();
  const Answer health = call(state, "GET", "/health");
  EXPECT_EQ(health.status, 503u);
  EXPECT_EQ(health.body["error"]["code"], "model_loading");
  EXPECT_EQ(call(state, "GET", "/v1/models").status, 503u);
  EXPECT_EQ(call(state, "POST", "/v1/chat/completions").status, 503u);
  const Answer metrics = call(state, "GET", "/metrics");
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_NE(metrics.raw.find("tern_model_loaded 0\n"), std::string::npos);
  EXPECT_EQ(call(state, "GET", "/").status, 200u);  // the page loads and shows the state
}

TEST(Router, DrainingAnswers503ShuttingDown) {
  ServerState state = loading_state();
  state.set_phase(ServerPhase::kDraining);
  EXPECT_EQ(call(state, "GET", "/health").body["error"]["code"], "shutting_down");
}

TEST(Router, ChecksHostThenKeyThenRouteThenMethod) {
  ServerState state = loading_state("k");
  EXPECT_EQ(call(state, "GET", "/nope", "", "evil.example").status, 403u);
  EXPECT_EQ(call(state, "GET", "/nope").status, 401u);  // unknown routes need the key too
  EXPECT_EQ(call(state, "GET", "/nope", "Bearer k").status, 404u);
  EXPECT_EQ(call(state, "GET", "/v1/chat/completions", "Bearer k").status, 405u);
  EXPECT_EQ(call(state, "GET", "/health").status, 503u);  // public, and loading
  EXPECT_EQ(call(state, "GET", "/%2e%2e/v1/./models/", "Bearer nope").status, 401u);
  EXPECT_EQ(call(state, "GET", "/v1/%zz").status, 400u);
}

}  // namespace
}  // namespace tern::server
