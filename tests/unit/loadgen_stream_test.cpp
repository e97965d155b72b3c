// The benchmark client's protocol layer, without a network: the event-stream parser, the
// reading of OpenAI stream chunks (what counts as a token, usage, errors), the request
// bodies, --url parsing and /metrics parsing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"
#include "loadgen/http_url.h"
#include "loadgen/openai_stream.h"
#include "loadgen/prometheus_text.h"
#include "loadgen/sse_parser.h"

namespace tern::loadgen {
namespace {

std::vector<std::string> events_of(const std::vector<std::string>& pieces, bool finish = true) {
  SseParser parser;
  std::vector<std::string> events;
  const auto on_event = [&](std::string_view data) { events.emplace_back(data); };
  for (const std::string& piece : pieces) EXPECT_TRUE(parser.feed(piece, on_event));
  if (finish) parser.finish(on_event);
  return events;
}

TEST(SseParser, DataEventsEndAtABlankLineWhateverTheLineEndings) {
  const std::vector<std::string> expected = {"{\"a\":1}", "[DONE]"};
  EXPECT_EQ(events_of({"data: {\"a\":1}\n\ndata: [DONE]\n\n"}), expected);
  EXPECT_EQ(events_of({"data: {\"a\":1}\r\n\r\ndata: [DONE]\r\n\r\n"}), expected);
  EXPECT_EQ(events_of({"data: {\"a\":1}\r\rdata: [DONE]\r\r"}), expected);
}

TEST(SseParser, BytesSplitAnywhereGiveTheSameEvents) {
  const std::string stream = ": keep-alive\r\n\r\nevent: x\r\ndata: one\r\ndata:two\r\n\r\ndata: [DONE]\r\n\r\n";
  const std::vector<std::string> whole = events_of({stream});
  EXPECT_EQ(whole, (std::vector<std::string>{"one\ntwo", "[DONE]"}));
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  EXPECT_EQ(events_of(bytes), whole);
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    EXPECT_EQ(events_of({stream.substr(0, cut), stream.substr(cut)}), whole) << "split at " << cut;
  }
}

TEST(SseParser, CommentsAndOtherFieldsAreIgnoredAndAnUnterminatedLastEventStillCounts) {
  EXPECT_EQ(events_of({": comment\n\nid: 3\nretry: 10\n\n"}), std::vector<std::string>{});
  EXPECT_EQ(events_of({"data: [DONE]"}, /*finish=*/false), std::vector<std::string>{});
  EXPECT_EQ(events_of({"data: [DONE]"}), std::vector<std::string>{"[DONE]"});
}

TEST(SseParser, ALineBeyondTheLimitFails) {
  SseParser parser;
  const std::string chunk(1 << 20, 'x');
  bool ok = true;
  for (size_t fed = 0; ok && fed <= SseParser::kMaxLineBytes; fed += chunk.size()) {
    ok = parser.feed(chunk, [](std::string_view) {});
  }
  EXPECT_FALSE(ok);
}

TEST(StreamReader, TimesTokenChunksAndTakesUsageForTheCount) {
  StreamReader r(Endpoint::kCompletions);
  using Step = StreamReader::Step;
  EXPECT_EQ(r.on_data(R"({"choices":[{"index":0,"text":"Hel","finish_reason":null}],"usage":null})", 0.10),
            Step::kContinue);
  EXPECT_EQ(r.on_data(R"({"choices":[{"index":0,"text":"","finish_reason":null}]})", 0.15), Step::kContinue);
  EXPECT_EQ(r.on_data(R"({"choices":[{"index":0,"text":"lo","finish_reason":null}]})", 0.20), Step::kContinue);
  EXPECT_FALSE(r.saw_finish_reason());
  EXPECT_EQ(r.on_data(R"({"choices":[{"index":0,"text":"","finish_reason":"length"}]})", 0.21), Step::kContinue);
  EXPECT_TRUE(r.saw_finish_reason());
  EXPECT_EQ(r.on_data(R"({"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}})", 0.22),
            Step::kContinue);
  EXPECT_EQ(r.on_data("[DONE]", 0.23), Step::kDone);
  EXPECT_EQ(r.token_times_s(), (std::vector<double>{0.10, 0.20})) << "empty text is not a token chunk";
  EXPECT_EQ(r.usage_completion_tokens(), 3);
  EXPECT_EQ(r.usage_prompt_tokens(), 7);
}

TEST(StreamReader, ChatCountsContentNotTheRoleOnlyFirstDelta) {
  StreamReader r(Endpoint::kChat);
  r.on_data(R"({"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]})", 0.01);
  r.on_data(R"({"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]})", 0.05);
  r.on_data(R"({"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]})", 0.06);
  r.on_data(R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})", 0.07);
  EXPECT_EQ(r.token_times_s(), (std::vector<double>{0.05, 0.06}));
  EXPECT_TRUE(r.saw_finish_reason());
  EXPECT_FALSE(r.usage_completion_tokens().has_value());
}

TEST(StreamReader, NonJsonDataAndErrorEventsAreClassified) {
  StreamReader bad(Endpoint::kCompletions);
  EXPECT_EQ(bad.on_data("{not json", 0.1), StreamReader::Step::kError);
  EXPECT_EQ(bad.error_class(), "malformed_sse");
  StreamReader failed(Endpoint::kCompletions);
  EXPECT_EQ(failed.on_data(R"({"error":{"message":"engine failed","type":"server_error"}})", 0.1),
            StreamReader::Step::kError);
  EXPECT_EQ(failed.error_class(), "stream_error");
  EXPECT_EQ(failed.error_message(), "engine failed");
}

TEST(RequestBody, CompletionsSendTokenIdsOrTextAndAskForUsage) {
  BenchPrompt ids{.token_ids = {5, 6, 7}, .num_prompt_tokens = 3, .max_tokens = 9};
  const auto body = nlohmann::json::parse(request_body({.model = "m", .ignore_eos = true}, ids));
  EXPECT_EQ(body["model"], "m");
  EXPECT_EQ(body["prompt"], nlohmann::json({5, 6, 7}));
  EXPECT_EQ(body["max_tokens"], 9);
  EXPECT_EQ(body["temperature"], 0.0);
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  EXPECT_EQ(body["ignore_eos"], true);

  BenchPrompt text{.text = "hello there", .max_tokens = 4};
  const auto plain = nlohmann::json::parse(request_body({}, text));
  EXPECT_EQ(plain["prompt"], "hello there");
  EXPECT_FALSE(plain.contains("model")) << "no model: the server's default";
  EXPECT_FALSE(plain.contains("ignore_eos")) << "only standard fields unless asked";
}

TEST(RequestBody, ChatSendsOneUserMessage) {
  const auto body =
      nlohmann::json::parse(request_body({.model = "m", .endpoint = Endpoint::kChat}, {.text = "hi", .max_tokens = 2}));
  EXPECT_EQ(body["messages"], nlohmann::json::parse(R"([{"role":"user","content":"hi"}])"));
  EXPECT_FALSE(body.contains("prompt"));
  EXPECT_STREQ(endpoint_path(Endpoint::kChat), "/v1/chat/completions");
}

TEST(ErrorMessageOf, ReadsOpenAiAndOtherServersErrorBodies) {
  EXPECT_EQ(error_message_of(R"({"error":{"message":"no such model","type":"invalid_request_error"}})"),
            "no such model");
  EXPECT_EQ(error_message_of(R"({"detail":"Not Found"})"), "Not Found");
  EXPECT_EQ(error_message_of("Internal Server Error"), "Internal Server Error");
}

TEST(HttpUrl, ParsesHostPortAndBasePath) {
  const HttpUrl a = parse_http_url("http://127.0.0.1:8000");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, "8000");
  EXPECT_EQ(a.base_path, "");
  EXPECT_EQ(a.host_header, "127.0.0.1:8000");
  const HttpUrl b = parse_http_url("http://example.com/proxy/v1/");
  EXPECT_EQ(b.port, "80");
  EXPECT_EQ(b.base_path, "/proxy") << "a trailing /v1 (an OpenAI base URL) is dropped";
  EXPECT_EQ(b.host_header, "example.com");
  const HttpUrl c = parse_http_url("http://[::1]:9000/v1");
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.host_header, "[::1]:9000");
  EXPECT_EQ(c.text(), "http://[::1]:9000");
}

TEST(HttpUrl, RejectsWhatItCannotServe) {
  EXPECT_THROW(parse_http_url("https://api.example.com"), Error);
  EXPECT_THROW(parse_http_url("127.0.0.1:8000"), Error);
  EXPECT_THROW(parse_http_url("http://:8000"), Error);
  EXPECT_THROW(parse_http_url("http://host:99999"), Error);
  EXPECT_THROW(parse_http_url("http://host:80x"), Error);
}

TEST(PrometheusText, ReadsSamplesWithAndWithoutLabels) {
  const auto m = parse_prometheus_text(
      "# HELP x help\n# TYPE x gauge\nx 3\ny_total{reason=\"a b\"} 1.5e3\nz_bucket{le=\"+Inf\"} 4 1700000000\n"
      "broken\n");
  EXPECT_EQ(m.at("x"), 3);
  EXPECT_EQ(m.at("y_total{reason=\"a b\"}"), 1500);
  EXPECT_EQ(m.at("z_bucket{le=\"+Inf\"}"), 4);
  EXPECT_EQ(m.count("broken"), 0u);
}

}  // namespace
}  // namespace tern::loadgen
