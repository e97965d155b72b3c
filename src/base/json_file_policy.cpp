#include "base/json_file_policy.h"

namespace tern {
namespace {

// What a field should have been, after "is not".
const char* expected_words(JsonType type) {
  switch (type) {
    case JsonType::kBoolean:
      return "true or false";
    case JsonType::kArray:
      return "a list";
    default:
      return json_type_name(type);
  }
}

std::string problem_words(const JsonReadProblem& p) {
  using Kind = JsonReadProblem::Kind;
  switch (p.kind) {
    case Kind::kMissing:
      return "is missing";
    case Kind::kWrongType:
      return p.shown + " is not " + expected_words(p.expected);
    case Kind::kOutOfRange:
      if (p.expected == JsonType::kInteger)
        return detail::concat(p.shown, " is out of range [", p.int_min, ", ", p.int_max, "]");
      return detail::concat(p.shown, " must be ", p.min_open ? "> " : ">= ", p.min);
    case Kind::kTooLong:
    case Kind::kInvalid:
      break;
  }
  return describe(p);
}

}  // namespace

std::shared_ptr<const JsonReadPolicy> config_file_policy(std::string source, std::string note) {
  return std::make_shared<const JsonReadPolicy>(
      JsonReadPolicy{.fail = [source = std::move(source), note = std::move(note)](const JsonReadProblem& p) {
        throw error(source, ": field '", p.path, "': ", problem_words(p), note);
      }});
}

}  // namespace tern
