// The pieces of JSON that schemas are made of, as grammar expressions, in one output
// style: one line, ", " between items and ": " after keys (Python's json.dumps default,
// and how chat models write JSON), no other white space.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/grammar.h"

namespace tern::grammar {

inline constexpr std::string_view kItemSeparator = ", ";
inline constexpr std::string_view kKeySeparator = ": ";

// `value` written in the output style (the literal an enum or const must produce).
std::string write_json(const nlohmann::ordered_json& value);

// Shared rules, added to the grammar on first use: any JSON value (recursive), and a
// JSON string (kept a rule of its own so its masks are computed once for all its uses).
RuleId json_value_rule(Grammar& g);
RuleId json_string_rule(Grammar& g);
// Any JSON object.
ExprId json_any_object(Grammar& g);
// One character of a string's content: a literal character or an escape (\uXXXX without
// surrogates, so each stands for one code point and lengths count exactly).
ExprId json_string_char(Grammar& g);
// A string of `min`..`max` characters (max may be kUnbounded), quotes included.
ExprId json_string_of_length(Grammar& g, int32_t min, int32_t max);
// A string whose content, unescaped, matches the regex (escapes written the short way:
// \" \\ \n \r \t \b \f, else \u00XX), quotes included.
ExprId json_string_matching(Grammar& g, std::string_view pattern);
// A string of the named format (date, time, date-time, uuid, email, ipv4); nullopt for
// another name. Dates are real calendar dates (leap years included); a time's fraction
// has at most 9 digits; an email has 1 to 4 dot-separated atoms of at most 16 characters
// and 2 to 4 domain labels, so that every format's strings have a bounded length.
std::optional<ExprId> json_string_format(Grammar& g, std::string_view format);
// A string whose content is none of `names` (no escapes: the names cannot hide behind
// another spelling), quotes included. For keys beside an object's named properties.
ExprId json_string_except(Grammar& g, const std::vector<std::string>& names);

// Integers in [lo, hi], each side optional (unbounded), without leading zeros or "-0".
// Requires lo <= hi when both are given.
ExprId json_integer_range(Grammar& g, std::optional<int64_t> lo, std::optional<int64_t> hi);
// Numbers in [lo, hi] (integer bounds, each optional). Unbounded on both sides: any JSON
// number; with a bound: no exponent (the bound is then exact).
ExprId json_number_range(Grammar& g, std::optional<int64_t> lo, std::optional<int64_t> hi);

}  // namespace tern::grammar
