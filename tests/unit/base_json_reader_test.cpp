// The shared typed JSON reader (base/json_reader.h): every getter's type and range checks,
// seen through a test policy that throws the problem itself, and the default wording.
#include <gtest/gtest.h>

#include <limits>

#include "base/json_reader.h"

namespace tern {
namespace {

using Json = nlohmann::json;
using Kind = JsonReadProblem::Kind;

struct Thrown {
  JsonReadProblem problem;
};

std::shared_ptr<const JsonReadPolicy> policy(bool integral_floats = false) {
  return std::make_shared<const JsonReadPolicy>(JsonReadPolicy{
      .fail = [](const JsonReadProblem& p) { throw Thrown{p}; }, .integral_floats_are_integers = integral_floats});
}

// The problem a read raises; fails the test when it raises none.
template <class Read>
JsonReadProblem problem_of(Read read) {
  try {
    read();
  } catch (const Thrown& t) {
    return t.problem;
  }
  ADD_FAILURE() << "the read raised no problem";
  return {};
}

const Json kDoc = Json::parse(R"({
  "flag": true, "name": "abc", "count": 7, "ratio": 0.5, "whole": 10.0, "huge": 18446744073709551615,
  "none": null, "list": [1, "two"], "inner": {"deep": "x"}
})");

JsonReader<Json> doc(bool integral_floats = false) { return JsonReader<Json>(kDoc, "", policy(integral_floats)); }

TEST(JsonReader, ReadsEachTypeAndTreatsNullAsAbsent) {
  const JsonReader<Json> r = doc();
  EXPECT_EQ(r.boolean("flag"), true);
  EXPECT_EQ(r.string("name"), "abc");
  EXPECT_EQ(r.integer("count", 0, 10), 7);
  EXPECT_EQ(r.number("ratio", 0, 1), 0.5);
  EXPECT_EQ(r.number("count"), 7.0);  // an integer is a number
  EXPECT_EQ(r.integer("none", 0, 1), std::nullopt);
  EXPECT_EQ(r.string("absent"), std::nullopt);
  EXPECT_FALSE(r.has("none"));
  EXPECT_EQ(r.object("inner")->string("deep"), "x");
  EXPECT_EQ(r.required("list").element(1).as_string(), "two");
}

TEST(JsonReader, WrongTypesNameTheFieldAndBothTypes) {
  const JsonReader<Json> r = doc();
  const JsonReadProblem p = problem_of([&] { r.integer("name", 0, 10); });
  EXPECT_EQ(p.kind, Kind::kWrongType);
  EXPECT_EQ(p.path, "name");
  EXPECT_EQ(p.shown, "\"abc\"");
  EXPECT_EQ(describe(p), "expected an integer, got a string");
  EXPECT_EQ(describe(problem_of([&] { r.boolean("count"); })), "expected a boolean, got an integer");
  EXPECT_EQ(describe(problem_of([&] { r.number("name"); })), "expected a number, got a string");
  EXPECT_EQ(describe(problem_of([&] { r.string("list"); })), "expected a string, got an array");
  EXPECT_EQ(describe(problem_of([&] { r.object("flag"); })), "expected an object, got a boolean");
  EXPECT_EQ(describe(problem_of([&] { r.required("inner").size(); })), "expected an array, got an object");
  EXPECT_EQ(problem_of([&] { r.object("inner")->integer("deep"); }).path, "inner.deep");
  EXPECT_EQ(problem_of([&] { r.required("list").element(1).as_integer(); }).path, "list[1]");
  // Reading a field of something that is not an object is a wrong type at its own path.
  const JsonReadProblem field_of_list = problem_of([&] { r.required("list").find("x"); });
  EXPECT_EQ(field_of_list.path, "list");
  EXPECT_EQ(field_of_list.expected, JsonType::kObject);
}

TEST(JsonReader, IntegralFloatsAreIntegersOnlyWhenThePolicySaysSo) {
  EXPECT_EQ(describe(problem_of([&] { doc().integer("whole"); })), "expected an integer, got a number");
  EXPECT_EQ(doc(true).integer("whole"), 10);
  EXPECT_EQ(describe(problem_of([&] { doc(true).integer("ratio"); })), "expected an integer, got a number");
}

TEST(JsonReader, RangesAreCheckedAndNeverWrap) {
  const JsonReader<Json> r = doc();
  const JsonReadProblem p = problem_of([&] { r.integer("count", 8, 10); });
  EXPECT_EQ(p.kind, Kind::kOutOfRange);
  EXPECT_EQ(describe(p), "must be in [8, 10], got 7");
  EXPECT_EQ(describe(problem_of([&] { r.integer("count", 8, std::numeric_limits<int64_t>::max()); })),
            "must be at least 8, got 7");
  // 2^64 - 1 is an integer, but not an int64: out of range rather than -1.
  EXPECT_EQ(describe(problem_of([&] { r.integer("huge"); })),
            "must be at least -9223372036854775808, got 18446744073709551615");
  EXPECT_EQ(describe(problem_of([&] { doc(true).integer("huge", 0, 5); })),
            "must be in [0, 5], got 18446744073709551615");
  EXPECT_EQ(describe(problem_of([&] { r.number("ratio", 0.0, 0.25); })), "must be in [0.0, 0.25], got 0.5");
  // A policy may let it saturate instead, for the range check to judge.
  auto saturating = std::make_shared<JsonReadPolicy>(*policy());
  saturating->saturate_beyond_int64 = true;
  const JsonReader<Json> s(kDoc, "", saturating);
  EXPECT_EQ(s.integer("huge"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(describe(problem_of([&] { s.integer("huge", 0, 5); })), "must be in [0, 5], got 18446744073709551615");
  const JsonReadProblem open = problem_of([&] { r.number("ratio", 0.5, 1.0, /*min_open=*/true); });
  EXPECT_TRUE(open.min_open);
  EXPECT_EQ(describe(open), "must be in (0.5, 1.0], got 0.5");
  EXPECT_EQ(r.number("ratio", 0.5, 1.0), 0.5);  // a closed bound admits itself
}

TEST(JsonReader, StringsHaveALengthLimit) {
  const JsonReadProblem p = problem_of([&] { doc().string("name", 2); });
  EXPECT_EQ(p.kind, Kind::kTooLong);
  EXPECT_EQ(describe(p), "is longer than 2 bytes");
  EXPECT_EQ(doc().string("name", 3), "abc");
}

TEST(JsonReader, MissingAndCallerProblemsGoThroughThePolicy) {
  const JsonReader<Json> r = doc();
  const JsonReadProblem missing = problem_of([&] { r.object("inner")->required("none"); });
  EXPECT_EQ(missing.kind, Kind::kMissing);
  EXPECT_EQ(missing.path, "inner.none");
  const JsonReadProblem own = problem_of([&] { r.fail_at("count", 7, " is odd"); });
  EXPECT_EQ(own.kind, Kind::kInvalid);
  EXPECT_EQ(own.path, "count");
  EXPECT_EQ(describe(own), "7 is odd");
  EXPECT_EQ(problem_of([&] { r.required("list").element(2); }).message, "index 2 out of range");
}

TEST(JsonReader, AnOwningReaderKeepsItsDocument) {
  const JsonReader<Json> child = [] {
    return JsonReader<Json>::owning(Json::parse(R"({"a": {"b": 3}})"), "", policy()).required("a");
  }();
  EXPECT_EQ(child.integer("b"), 3);
}

TEST(JsonReader, WorksOnOrderedJson) {
  const nlohmann::ordered_json body = nlohmann::ordered_json::parse(R"({"n": "x"})");
  const JsonReader<nlohmann::ordered_json> r(body, "", policy());
  EXPECT_EQ(describe(problem_of([&] { r.integer("n"); })), "expected an integer, got a string");
}

}  // namespace
}  // namespace tern
