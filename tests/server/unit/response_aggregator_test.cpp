// The non-streaming response is the stream's chunks merged: same text, tool calls and
// logprobs, and the usage chunk's usage.
#include "server/response_aggregator.h"

#include <gtest/gtest.h>

namespace tern::server {
namespace {

Json chat_chunk(int index, Json delta, Json finish = nullptr, Json logprobs = nullptr) {
  return {{"id", "chatcmpl-1"},
          {"object", "chat.completion.chunk"},
          {"created", 5},
          {"model", "m"},
          {"choices",
           Json::array({{{"index", index}, {"delta", delta}, {"logprobs", logprobs}, {"finish_reason", finish}}})}};
}

TEST(ResponseAggregator, ChatMergesContentToolCallsAndLogprobsPerChoice) {
  ResponseAggregator agg(RequestApi::kChat);
  agg.add(chat_chunk(0, {{"role", "assistant"}, {"content", ""}}));
  agg.add(chat_chunk(1, {{"role", "assistant"}, {"content", ""}}));
  agg.add(chat_chunk(0, {{"content", "Hel"}}, nullptr, {{"content", Json::array({{{"token", "Hel"}}})}}));
  agg.add(chat_chunk(1, {{"tool_calls", Json::array({{{"index", 0},
                                                      {"id", "call_1"},
                                                      {"type", "function"},
                                                      {"function", {{"name", "f"}, {"arguments", "{}"}}}}})}}));
  agg.add(chat_chunk(0, {{"content", "lo"}}, nullptr, {{"content", Json::array({{{"token", "lo"}}})}}));
  agg.add(chat_chunk(0, Json::object(), "length"));
  agg.add(chat_chunk(1, Json::object(), "tool_calls"));
  agg.add({{"id", "chatcmpl-1"},
           {"object", "chat.completion.chunk"},
           {"created", 5},
           {"model", "m"},
           {"choices", Json::array()},
           {"usage", {{"prompt_tokens", 3}, {"completion_tokens", 4}}}});
  const Json r = agg.response();
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["id"], "chatcmpl-1");
  ASSERT_EQ(r["choices"].size(), 2u);
  EXPECT_EQ(r["choices"][0]["message"]["content"], "Hello");
  EXPECT_EQ(r["choices"][0]["logprobs"]["content"].size(), 2u);
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(r["choices"][1]["message"]["content"].is_null());
  EXPECT_EQ(r["choices"][1]["message"]["tool_calls"][0]["function"]["name"], "f");
  EXPECT_FALSE(r["choices"][1]["message"]["tool_calls"][0].contains("index"));
  EXPECT_EQ(r["choices"][1]["finish_reason"], "tool_calls");
  EXPECT_EQ(r["usage"]["completion_tokens"], 4);
}

TEST(ResponseAggregator, StreamedArgumentPiecesJoinIntoOneCall) {
  ResponseAggregator agg(RequestApi::kChat);
  agg.add(chat_chunk(0, {{"tool_calls", Json::array({{{"index", 0},
                                                      {"id", "call_1"},
                                                      {"type", "function"},
                                                      {"function", {{"name", "f"}, {"arguments", "{\"a\""}}}}})}}));
  agg.add(chat_chunk(0, {{"tool_calls", Json::array({{{"index", 0}, {"function", {{"arguments", ": 1}"}}}}})}}));
  agg.add(chat_chunk(0, {{"tool_calls", Json::array({{{"index", 1},
                                                      {"id", "call_2"},
                                                      {"type", "function"},
                                                      {"function", {{"name", "g"}, {"arguments", "{}"}}}}})}}));
  agg.add(chat_chunk(0, Json::object(), "tool_calls"));
  const Json calls = agg.response()["choices"][0]["message"]["tool_calls"];
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0]["id"], "call_1");
  EXPECT_EQ(calls[0]["function"]["arguments"], "{\"a\": 1}");
  EXPECT_EQ(calls[1]["function"]["name"], "g");
}

TEST(ResponseAggregator, CompletionsConcatenateTextAndLogprobArrays) {
  ResponseAggregator agg(RequestApi::kCompletions);
  const auto chunk = [](Json choice) {
    return Json{{"id", "cmpl-1"},
                {"object", "text_completion"},
                {"created", 5},
                {"model", "m"},
                {"choices", Json::array({choice})}};
  };
  agg.add(chunk({{"index", 0},
                 {"text", "a"},
                 {"finish_reason", nullptr},
                 {"logprobs", {{"tokens", {"a"}}, {"token_logprobs", {-1.0}}, {"text_offset", {0}}}}}));
  agg.add(chunk({{"index", 0},
                 {"text", "b"},
                 {"finish_reason", nullptr},
                 {"logprobs", {{"tokens", {"b"}}, {"token_logprobs", {-2.0}}, {"text_offset", {1}}}}}));
  agg.add(chunk({{"index", 0}, {"text", ""}, {"finish_reason", "stop"}, {"logprobs", nullptr}}));
  const Json r = agg.response();
  EXPECT_EQ(r["object"], "text_completion");
  EXPECT_EQ(r["choices"][0]["text"], "ab");
  EXPECT_EQ(r["choices"][0]["logprobs"]["tokens"], Json({"a", "b"}));
  EXPECT_EQ(r["choices"][0]["logprobs"]["text_offset"], Json({0, 1}));
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
}

}  // namespace
}  // namespace tern::server
