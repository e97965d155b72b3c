#include "server/json_fields.h"

#include "server/api_error.h"

namespace tern::server {
namespace {

// OpenAI's wording: a 400 whose `param` names the field and whose message starts with it.
[[noreturn]] void fail_request(const JsonReadProblem& p) {
  if (p.kind == JsonReadProblem::Kind::kWrongType && p.expected == JsonType::kObject) {
    throw ApiError(
        ApiErrorKind::kInvalidRequest,
        (p.path.empty() ? std::string("the body") : p.path) + " must be an object, got " + json_type_name(p.got),
        p.path.empty() ? std::nullopt : std::optional<std::string>(p.path));
  }
  throw invalid_param(p.path, describe(p));
}

}  // namespace

JsonFields request_fields(const Json& object, std::string path) {
  static const auto policy = std::make_shared<const JsonReadPolicy>(
      JsonReadPolicy{.fail = fail_request, .integral_floats_are_integers = true, .saturate_beyond_int64 = true});
  JsonFields fields(object, std::move(path), policy);
  fields.expect_object();
  return fields;
}

}  // namespace tern::server
