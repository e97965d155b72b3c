// JSON schema -> grammar: outputs that validate against the schema, written in one style
// (json_primitives.h: one line, ", " and ": ").
//
// Keywords: type (a name or a list), enum, const, anyOf, oneOf (as anyOf: an output may
// match several alternatives), allOf with one schema, $ref (to "#" or a JSON pointer in
// the document, recursion included) with $defs / definitions; objects: properties
// (written in schema order), required, additionalProperties (false when left out beside
// properties, any value when there are no properties); arrays: items, minItems,
// maxItems, uniqueItems false; strings: minLength, maxLength, pattern (matching the whole
// string), format (date, time, date-time, uuid, email, ipv4: each a finite-length subset
// of the format, see json_primitives.h); integers: minimum,
// maximum, exclusiveMinimum, exclusiveMaximum; numbers: minimum and maximum with integer
// values (then written without an exponent); boolean; null. Annotations (title,
// description, default, examples, $schema, $id, $comment, deprecated, readOnly,
// writeOnly) are ignored. A schema without type takes the types its keywords describe.
// Any other keyword is an error naming it, never a constraint silently left out.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "grammar/grammar.h"

namespace tern::grammar {

// Nesting of schemas inside schemas (properties, items, anyOf, ...) that is accepted.
inline constexpr int kMaxSchemaDepth = 64;

// The grammar of outputs valid for `schema`. Throws tern::Error "JSON schema <pointer>:
// <problem>" naming the keyword.
Grammar json_schema_grammar(const nlohmann::ordered_json& schema);
// Any JSON object (response_format {"type": "json_object"}).
Grammar json_object_grammar();

// Adds the expression of `schema` to a grammar that holds other parts too (tool calls).
// Rules it makes are named after `name`.
ExprId add_json_schema(Grammar& grammar, const nlohmann::ordered_json& schema, const std::string& name);

}  // namespace tern::grammar
