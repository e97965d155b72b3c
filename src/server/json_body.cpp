#include "server/json_body.h"

#include <string>

#include "base/strict_json_parse.h"
#include "base/utf8.h"
#include "server/api_error.h"

namespace tern::server {
namespace {

ApiError bad_body(const std::string& message) { return ApiError(ApiErrorKind::kInvalidRequest, message); }

// An error about the field at `param` when there is one, else about the whole text.
ApiError bad_field(const std::string& what, const std::string& param, const std::string& field_message,
                   const std::string& text_message) {
  if (param.empty()) return bad_body(what + " " + text_message);
  return ApiError(ApiErrorKind::kInvalidRequest, param + ": " + field_message, param);
}

}  // namespace

Json parse_json_text(std::string_view text, const std::string& what) {
  if (!utf8::is_valid(text)) throw bad_body(what + " is not valid UTF-8");
  using Kind = JsonProblem::Kind;
  const JsonLimits limits{.max_depth = kMaxJsonDepth, .max_object_keys = kMaxObjectKeys};
  return strict_json_parse<Json>(text, limits, [&](const JsonProblem& p) {
    switch (p.kind) {
      case Kind::kTooDeep:
        return bad_body(what + " is nested more than " + std::to_string(kMaxJsonDepth) + " levels deep");
      case Kind::kRepeatedKey:
        return bad_body(what + " repeats the key \"" + p.detail + "\" in one object");
      case Kind::kTooManyKeys: {
        const std::string limit = "has more than " + std::to_string(kMaxObjectKeys) + " keys";
        return bad_field(what, p.key_path, "the object " + limit, limit);
      }
      case Kind::kNumberTooLarge:
        return bad_field(what, p.key_path, "the number is too large for a double",
                         "holds a number too large for a double");
      case Kind::kSyntax:
        break;
    }
    return bad_body(what + " is not valid JSON: " + p.detail);
  });
}

Json parse_json_body(std::string_view body) {
  Json json = parse_json_text(body, "the request body");
  if (!json.is_object()) throw bad_body("the request body must be a JSON object");
  return json;
}

}  // namespace tern::server
