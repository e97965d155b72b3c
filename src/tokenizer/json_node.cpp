#include "tokenizer/json_node.h"

#include "base/regular_file.h"
#include "base/strict_json_parse.h"

namespace tern {
namespace {

// nlohmann's names, which these files' messages have always used: an integer is a "number".
const char* found_name(JsonType type) {
  switch (type) {
    case JsonType::kBoolean:
      return "boolean";
    case JsonType::kInteger:
    case JsonType::kNumber:
      return "number";
    case JsonType::kString:
      return "string";
    case JsonType::kArray:
      return "array";
    case JsonType::kObject:
      return "object";
    case JsonType::kNull:
      break;
  }
  return "null";
}

// "FILE: path: problem".
std::shared_ptr<const JsonReadPolicy> file_policy(const std::string& label) {
  return std::make_shared<const JsonReadPolicy>(JsonReadPolicy{.fail = [label](const JsonReadProblem& p) {
    const std::string where = p.path.empty() ? label : label + ": " + p.path;
    switch (p.kind) {
      case JsonReadProblem::Kind::kMissing:
        throw error(where, ": missing");
      case JsonReadProblem::Kind::kWrongType:
        throw error(where, ": expected ", json_type_name(p.expected), ", found ", found_name(p.got));
      default:
        throw error(where, ": ", describe(p));
    }
  }});
}

}  // namespace

JsonNode load_json_node(const std::string& path, uint64_t max_bytes, int max_depth) {
  return parse_json_node(read_regular_file(path, max_bytes), path, max_depth);
}

JsonNode parse_json_node(std::string_view text, const std::string& label, int max_depth) {
  using Kind = JsonProblem::Kind;
  nlohmann::json root = strict_json_parse<nlohmann::json>(text, {.max_depth = max_depth}, [&](const JsonProblem& p) {
    const std::string at = p.key_path.empty() ? "" : " (in " + p.key_path + ")";
    switch (p.kind) {
      case Kind::kTooDeep:
        return error(label, ": JSON nested deeper than ", max_depth, " levels");
      case Kind::kRepeatedKey:
        return error(label, ": key '", p.detail, "' appears twice in one object", at);
      case Kind::kNumberTooLarge:
        return error(label, ": a number too large for a double", at);
      case Kind::kTooManyKeys:  // no key limit is set for tokenizer files
      case Kind::kSyntax:
        break;
    }
    return error(label, ": invalid JSON: ", p.detail);
  });
  return JsonNode::owning(std::move(root), "", file_policy(label));
}

}  // namespace tern
