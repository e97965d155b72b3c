#include "model/json_file.h"

#include "base/error.h"
#include "base/strict_json_parse.h"
#include "model/mapped_file.h"

namespace tern {

nlohmann::json parse_json_strict(std::string_view text, const std::string& source, int max_depth) {
  using Kind = JsonProblem::Kind;
  return strict_json_parse<nlohmann::json>(text, {.max_depth = max_depth}, [&](const JsonProblem& p) {
    const std::string at = p.key_path.empty() ? "" : " (in " + p.key_path + ")";
    switch (p.kind) {
      case Kind::kTooDeep:
        return error(source, ": JSON nested deeper than ", max_depth, " levels");
      case Kind::kRepeatedKey:
        return error(source, ": key '", p.detail, "' appears twice in one object", at);
      case Kind::kNumberTooLarge:
        return error(source, ": a number too large for a double", at);
      case Kind::kTooManyKeys:  // no key limit is set for model files
      case Kind::kSyntax:
        break;
    }
    return error(source, ": not valid JSON: ", p.detail);
  });
}

nlohmann::json load_json_file(const std::string& path, uint64_t max_bytes, int max_depth) {
  MappedFile file(path);
  if (file.size() > max_bytes)
    throw error(path, ": ", file.size(), " bytes, more than the ", max_bytes, "-byte limit for this file");
  std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
  return parse_json_strict(text, path, max_depth);
}

}  // namespace tern
