// Strict request JSON: UTF-8, depth, repeated keys, objects only; errors are 400s.
#include "server/json_body.h"

#include <gtest/gtest.h>

#include <string>

#include "server/api_error.h"

namespace tern::server {
namespace {

void expect_400(const std::string& body, const std::string& fragment) {
  try {
    parse_json_body(body);
    ADD_FAILURE() << "accepted: " << body.substr(0, 60);
  } catch (const ApiError& e) {
    EXPECT_EQ(http_status(e.kind()), 400u);
    EXPECT_NE(e.message().find(fragment), std::string::npos) << e.message();
  }
}

TEST(ParseJsonBody, AcceptsObjects) {
  EXPECT_EQ(parse_json_body(R"({"a": [1, {"b": "é"}], "c": "\u0000"})")["a"][1]["b"], "é");
}

TEST(ParseJsonBody, RejectsBadBodies) {
  expect_400(R"({"model":)", "not valid JSON");
  expect_400(R"({"a":1} x)", "not valid JSON");
  expect_400("[]", "must be a JSON object");
  expect_400("null", "must be a JSON object");
  expect_400(R"({"a":1,"a":2})", "repeats the key \"a\"");
  expect_400(R"({"o":{"k":1,"k":1}})", "repeats the key \"k\"");
  expect_400(std::string(100000, '[') + std::string(100000, ']'), "nested more than");
  expect_400("{\"a\":\"\xff\"}", "not valid UTF-8");
  expect_400(R"({"a":"\ud800"})", "not valid JSON");
}

// A number no double holds (it would read as inf) names its field; so does an object with
// too many keys (ordered_json inserts in linear time, so 10^5 keys would take seconds).
TEST(ParseJsonBody, NamesTheFieldOfAHugeNumberOrAnObjectWithTooManyKeys) {
  const auto param_of = [](const std::string& body) -> std::string {
    try {
      parse_json_body(body);
    } catch (const ApiError& e) {
      return e.param().value_or("(null)");
    }
    return "(accepted)";
  };
  EXPECT_EQ(param_of(R"({"prompt":"x","temperature":1e309})"), "temperature");
  EXPECT_EQ(param_of(R"({"o":{"k":[1,-1e400]}})"), "o.k");
  std::string bias = R"({"prompt":"x","logit_bias":{)";
  for (size_t i = 0; i <= kMaxObjectKeys; ++i) bias += (i ? ",\"" : "\"") + std::to_string(i) + "\":1";
  EXPECT_EQ(param_of(bias + "}}"), "logit_bias");
  std::string top = "{";
  for (size_t i = 0; i <= kMaxObjectKeys; ++i) top += (i ? ",\"" : "\"") + std::to_string(i) + "\":1";
  EXPECT_EQ(param_of(top + "}"), "(null)");
}

TEST(ParseJsonBody, KeysMayRepeatInDifferentObjects) {
  EXPECT_NO_THROW(parse_json_body(R"({"a":{"k":1},"b":{"k":2},"k":3})"));
}

}  // namespace
}  // namespace tern::server

namespace tern::server {
namespace {

// Issue 23, finding 12 (battery A7): a message quotes at most 64 bytes of what the client
// sent, cut on a character boundary, whatever the body holds.
TEST(ParseJsonBody, ErrorsQuoteAtMostAShortFragmentOfTheBody) {
  const std::string huge(1 << 20, 'y');
  const std::string multibyte = std::string(63, 'x') + "\xc3\xa9" + std::string(1000, 'z');
  for (const std::string& body : {"{\"prompt\":\"" + huge, "{\"" + huge + "\":1,\"" + huge + "\":2}",
                                  "{\"" + huge + "\":1e999}", "{\"prompt\":\"" + multibyte, "{\"a\":" + huge}) {
    try {
      parse_json_body(body);
      ADD_FAILURE() << "accepted";
    } catch (const ApiError& e) {
      EXPECT_LT(e.message().size(), 400u) << e.message().substr(0, 200);
      EXPECT_LE(e.param().value_or("").size(), 70u);
      // 63 x's and the whole é, never half of it.
      EXPECT_EQ(e.message().find("x\xc3..."), std::string::npos) << e.message();
    }
  }
}

}  // namespace
}  // namespace tern::server
