// Parses a request body as JSON, strictly: the body must be valid UTF-8, a JSON object,
// nested at most kMaxJsonDepth deep, with at most kMaxObjectKeys keys per object, and free
// of repeated keys (nlohmann alone keeps the
// last of two equal keys, which lets a request hide a field from a proxy that checks the
// first). Every failure is an ApiError 400 with param null.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace tern::server {

using Json = nlohmann::ordered_json;

inline constexpr int kMaxJsonDepth = 64;
// Keys per object. nlohmann's ordered_json inserts in linear time per key, so an object of
// 10^5 keys would cost 10^10 steps; no field of an OpenAI request needs more.
inline constexpr size_t kMaxObjectKeys = 256;

Json parse_json_body(std::string_view body);

// The same checks for JSON of any type; `what` names it in errors ("messages[1]...arguments").
Json parse_json_text(std::string_view text, const std::string& what);

}  // namespace tern::server
