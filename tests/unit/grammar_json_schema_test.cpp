// JSON schema to grammar: every supported keyword admits the outputs that validate and
// refuses those that do not, in the one output style (", " and ": ", nothing else);
// unsupported keywords are errors naming the keyword and where it is.
#include <gtest/gtest.h>

#include "grammar/json_schema.h"
#include "grammar_support.h"

namespace tern::grammar {
namespace {

using Json = nlohmann::ordered_json;
using testing::matches;

bool valid(const Json& schema, std::string_view output) { return matches(json_schema_grammar(schema), output); }

std::string error_of(const Json& schema) {
  try {
    CompiledGrammar::compile(json_schema_grammar(schema), testing::byte_vocabulary());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(GrammarJsonSchema, ObjectsWritePropertiesInSchemaOrderWithOneStyle) {
  const Json schema = Json::parse(R"({"type": "object", "properties": {"name": {"type": "string"},
      "age": {"type": "integer"}}, "required": ["name", "age"]})");
  EXPECT_TRUE(valid(schema, R"({"name": "Ann", "age": 31})"));
  EXPECT_FALSE(valid(schema, R"({"age": 31, "name": "Ann"})"));  // schema order
  EXPECT_FALSE(valid(schema, R"({"name":"Ann","age":31})"));     // one style
  EXPECT_FALSE(valid(schema, R"({ "name": "Ann", "age": 31 })"));
  EXPECT_FALSE(valid(schema, R"({"name": "Ann"})"));  // required
}

TEST(GrammarJsonSchema, OptionalPropertiesMayBeLeftOutInAnyCombination) {
  const Json schema = Json::parse(R"({"type": "object", "properties": {"a": {"type": "integer"},
      "b": {"type": "integer"}, "c": {"type": "integer"}}, "required": ["b"]})");
  EXPECT_TRUE(valid(schema, R"({"b": 2})"));
  EXPECT_TRUE(valid(schema, R"({"a": 1, "b": 2})"));
  EXPECT_TRUE(valid(schema, R"({"b": 2, "c": 3})"));
  EXPECT_TRUE(valid(schema, R"({"a": 1, "b": 2, "c": 3})"));
  EXPECT_FALSE(valid(schema, R"({"a": 1, "c": 3})"));
  EXPECT_FALSE(valid(schema, R"({, "b": 2})"));
  const Json none_required = Json::parse(R"({"type": "object", "properties": {"a": {"type": "integer"},
      "b": {"type": "integer"}}})");
  EXPECT_TRUE(valid(none_required, "{}"));
  EXPECT_TRUE(valid(none_required, R"({"b": 2})"));
  EXPECT_FALSE(valid(none_required, R"({"b": 2, "a": 1})"));
}

TEST(GrammarJsonSchema, AdditionalProperties) {
  const Json closed = Json::parse(R"({"type": "object", "properties": {"a": {"type": "integer"}}})");
  EXPECT_FALSE(valid(closed, R"({"a": 1, "z": 2})"));  // left out beside properties: none
  const Json open = Json::parse(R"({"type": "object", "properties": {"a": {"type": "integer"}},
      "additionalProperties": {"type": "boolean"}})");
  EXPECT_TRUE(valid(open, R"({"a": 1, "z": true, "y": false})"));
  EXPECT_TRUE(valid(open, R"({"z": true})"));
  EXPECT_FALSE(valid(open, R"({"a": 1, "z": 2})"));
  EXPECT_FALSE(valid(open, R"({"z": true, "a": true})"));  // "a" is no additional key
  EXPECT_TRUE(valid(open, R"({"ab": true})"));
  const Json any = Json::parse(R"({"type": "object"})");
  EXPECT_TRUE(valid(any, R"({"x": [1, {"y": null}], "z": "w"})"));
}

TEST(GrammarJsonSchema, Arrays) {
  const Json schema = Json::parse(R"({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3})");
  EXPECT_TRUE(valid(schema, "[1]"));
  EXPECT_TRUE(valid(schema, "[1, 2, 3]"));
  EXPECT_FALSE(valid(schema, "[]"));
  EXPECT_FALSE(valid(schema, "[1, 2, 3, 4]"));
  EXPECT_FALSE(valid(schema, "[1,2]"));
  EXPECT_TRUE(valid(Json::parse(R"({"type": "array"})"), R"([1, "a", [true]])"));
  EXPECT_TRUE(valid(Json::parse(R"({"type": "array", "maxItems": 0})"), "[]"));
}

TEST(GrammarJsonSchema, Strings) {
  const Json plain = {{"type", "string"}};
  EXPECT_TRUE(valid(plain, R"("tab\tquote\" \u00e9 é 你")"));
  EXPECT_FALSE(valid(plain, "\"a\nb\""));     // raw control characters need an escape
  EXPECT_FALSE(valid(plain, R"("\ud800")"));  // no surrogate escapes: one escape, one character
  EXPECT_FALSE(valid(plain, R"("\x")"));
  const Json length = Json::parse(R"({"type": "string", "minLength": 2, "maxLength": 3})");
  EXPECT_TRUE(valid(length, R"("ab")"));
  EXPECT_TRUE(valid(length, R"("a\né")"));  // characters, not bytes: an escape is one
  EXPECT_FALSE(valid(length, R"("a")"));
  EXPECT_FALSE(valid(length, R"("abcd")"));
  const Json pattern = Json::parse(R"({"type": "string", "pattern": "^[A-Z]{2}-\\d+\"?$"})");
  EXPECT_TRUE(valid(pattern, R"("AB-12")"));
  EXPECT_TRUE(valid(pattern, R"("AB-12\"")"));  // the pattern's quote, escaped in JSON
  EXPECT_FALSE(valid(pattern, R"("ab-12")"));
  const Json enumeration = Json::parse(R"({"type": "string", "enum": ["red", "green", "a\"b"]})");
  EXPECT_TRUE(valid(enumeration, R"("green")"));
  EXPECT_TRUE(valid(enumeration, R"("a\"b")"));
  EXPECT_FALSE(valid(enumeration, R"("blue")"));
}

TEST(GrammarJsonSchema, Formats) {
  const auto format = [](const char* name) { return Json{{"type", "string"}, {"format", name}}; };
  EXPECT_TRUE(valid(format("date"), R"("2024-02-29")"));
  EXPECT_FALSE(valid(format("date"), R"("2023-02-29")"));  // not a leap year
  EXPECT_TRUE(valid(format("date"), R"("2000-02-29")"));
  EXPECT_FALSE(valid(format("date"), R"("1900-02-29")"));
  EXPECT_FALSE(valid(format("date"), R"("2024-04-31")"));
  EXPECT_TRUE(valid(format("date-time"), R"("2024-05-06T07:08:09.5Z")"));
  EXPECT_TRUE(valid(format("date-time"), R"("2024-05-06T23:59:59+05:30")"));
  EXPECT_FALSE(valid(format("date-time"), R"("2024-05-06 07:08:09Z")"));
  EXPECT_TRUE(valid(format("time"), R"("07:08:09Z")"));
  EXPECT_TRUE(valid(format("uuid"), R"("123e4567-e89b-12d3-a456-426614174000")"));
  EXPECT_FALSE(valid(format("uuid"), R"("123e4567e89b12d3a456426614174000")"));
  EXPECT_TRUE(valid(format("email"), R"("ann.lee+tag@mail.example.org")"));
  EXPECT_FALSE(valid(format("email"), R"("ann@-example.org")"));
  EXPECT_TRUE(valid(format("ipv4"), R"("192.168.0.255")"));
  EXPECT_FALSE(valid(format("ipv4"), R"("192.168.0.256")"));
}

TEST(GrammarJsonSchema, IntegersWithinBounds) {
  const Json schema = Json::parse(R"({"type": "integer", "minimum": -15, "maximum": 123})");
  for (int v = -30; v <= 200; ++v) EXPECT_EQ(valid(schema, std::to_string(v)), v >= -15 && v <= 123) << v;
  EXPECT_FALSE(valid(schema, "007"));
  EXPECT_FALSE(valid(schema, "-0"));
  const Json exclusive = Json::parse(R"({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10})");
  EXPECT_FALSE(valid(exclusive, "0"));
  EXPECT_TRUE(valid(exclusive, "1"));
  EXPECT_TRUE(valid(exclusive, "9"));
  EXPECT_FALSE(valid(exclusive, "10"));
  const Json at_least = Json::parse(R"({"type": "integer", "minimum": 95})");
  EXPECT_FALSE(valid(at_least, "94"));
  EXPECT_TRUE(valid(at_least, "95"));
  EXPECT_TRUE(valid(at_least, "100"));
  EXPECT_TRUE(valid(at_least, "123456789"));
  const Json below = Json::parse(R"({"type": "integer", "maximum": -3})");
  EXPECT_TRUE(valid(below, "-3"));
  EXPECT_TRUE(valid(below, "-1000"));
  EXPECT_FALSE(valid(below, "-2"));
  EXPECT_FALSE(valid(below, "5"));
}

TEST(GrammarJsonSchema, Numbers) {
  const Json any = {{"type", "number"}};
  for (const char* ok : {"0", "-0.5", "12.25e-3", "1E+9", "-7"}) EXPECT_TRUE(valid(any, ok)) << ok;
  for (const char* bad : {"01", ".5", "1.", "+1", "1e", "NaN"}) EXPECT_FALSE(valid(any, bad)) << bad;
  const Json bounded = Json::parse(R"({"type": "number", "minimum": -1, "maximum": 2})");
  for (const char* ok : {"-1", "-1.0", "-0.75", "0", "1.999", "2", "2.000"}) EXPECT_TRUE(valid(bounded, ok)) << ok;
  for (const char* bad : {"-1.5", "-2", "2.5", "2.01", "3", "1e0"}) EXPECT_FALSE(valid(bounded, bad)) << bad;
}

TEST(GrammarJsonSchema, BooleanNullEnumConstAndCombinations) {
  EXPECT_TRUE(valid({{"type", "boolean"}}, "false"));
  EXPECT_TRUE(valid({{"type", "null"}}, "null"));
  EXPECT_TRUE(valid(Json::parse(R"({"type": ["string", "null"]})"), "null"));
  EXPECT_TRUE(valid(Json::parse(R"({"const": {"a": [1, 2]}})"), R"({"a": [1, 2]})"));
  EXPECT_TRUE(valid(Json::parse(R"({"enum": [1, "x", null, true]})"), "null"));
  const Json any_of = Json::parse(R"({"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 1}]})");
  EXPECT_TRUE(valid(any_of, "12"));
  EXPECT_TRUE(valid(any_of, R"("a")"));
  EXPECT_FALSE(valid(any_of, R"("ab")"));
  EXPECT_TRUE(valid(Json::parse(R"({"oneOf": [{"type": "boolean"}, {"type": "null"}]})"), "true"));
  EXPECT_TRUE(valid(Json::parse(R"({"allOf": [{"type": "boolean"}], "description": "flag"})"), "true"));
}

TEST(GrammarJsonSchema, ReferencesIncludingRecursiveOnes) {
  const Json schema = Json::parse(R"({
    "$defs": {"node": {"type": "object", "properties": {"value": {"type": "integer"},
        "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["value"]}},
    "$ref": "#/$defs/node"})");
  EXPECT_TRUE(valid(schema, R"({"value": 1})"));
  EXPECT_TRUE(valid(schema, R"({"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}, {"value": 4}]})"));
  EXPECT_FALSE(valid(schema, R"({"value": 1, "children": [{"children": []}]})"));
  const Json root_ref = Json::parse(R"({"type": "object", "properties": {"next": {"$ref": "#"}}})");
  EXPECT_TRUE(valid(root_ref, R"({"next": {"next": {}}})"));
  const Json definitions = Json::parse(R"({"definitions": {"x": {"type": "null"}}, "$ref": "#/definitions/x"})");
  EXPECT_TRUE(valid(definitions, "null"));
}

TEST(GrammarJsonSchema, NestedThirtyTwoLevelsDeep) {
  Json schema = {{"type", "integer"}};
  std::string output = "7";
  for (int i = 0; i < 32; ++i) {
    schema = {{"type", "object"}, {"properties", {{"x", schema}}}, {"required", {"x"}}};
    output = "{\"x\": " + output + "}";
  }
  EXPECT_TRUE(valid(schema, output));
}

TEST(GrammarJsonSchema, AnySchemaAndJsonObject) {
  EXPECT_TRUE(valid(Json::object(), R"([1, {"a": "b"}, null])"));
  EXPECT_TRUE(valid(true, "\"x\""));
  const Grammar object = json_object_grammar();
  EXPECT_TRUE(matches(object, R"({"a": [1, 2.5, {"b": null}], "c": "d"})"));
  EXPECT_FALSE(matches(object, "[1]"));
  EXPECT_FALSE(matches(object, "{\"a\":1}"));
}

TEST(GrammarJsonSchema, UnsupportedKeywordsAreErrorsNamingThemAndWhereTheyAre) {
  EXPECT_EQ(error_of(Json::parse(R"({"type": "object", "properties": {"n": {"type": "number", "multipleOf": 2}}})")),
            "JSON schema #/properties/n: unsupported keyword 'multipleOf'");
  EXPECT_EQ(error_of(Json::parse(R"({"type": "array", "uniqueItems": true})")),
            "JSON schema #/uniqueItems: uniqueItems true is not supported");
  EXPECT_EQ(error_of(Json::parse(R"({"type": "string", "format": "hostname"})")),
            "JSON schema #/format: format 'hostname' is not supported (supported: date, time, date-time, uuid, "
            "email, ipv4)");
  EXPECT_EQ(error_of(Json::parse(R"({"type": "number", "minimum": 0.5})")),
            "JSON schema #/minimum: minimum of a number must be an integer value, got 0.5");
  EXPECT_EQ(error_of(Json::parse(R"({"type": "string", "pattern": "(a)\\1"})")),
            "JSON schema #/pattern: regex '(a)\\1' at offset 3: backreferences are not supported");
  EXPECT_EQ(error_of(Json::parse(R"({"$ref": "#/$defs/missing"})")),
            "JSON schema #/$ref: '#/$defs/missing' points to nothing in the schema");
  EXPECT_EQ(error_of(Json::parse(R"({"type": "object", "properties": {}, "required": ["x"]})")),
            "JSON schema #/required: required property 'x' is not in properties");
  EXPECT_EQ(error_of(Json::parse(R"({"anyOf": [{"type": "null"}], "type": "object"})")),
            "JSON schema #: 'type' beside 'anyOf' is not supported");
  EXPECT_EQ(error_of(false), "JSON schema #: the schema false matches nothing");
  EXPECT_EQ(error_of(Json::parse(R"({"type": "integer", "minimum": 5, "maximum": 4})")),
            "JSON schema #: no integer lies within minimum and maximum");
}

}  // namespace
}  // namespace tern::grammar
