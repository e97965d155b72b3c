#include "app/generation_config.h"

#include <filesystem>
#include <limits>
#include <optional>

#include "base/log.h"
#include "tokenizer/json_node.h"

namespace tern::app {
namespace {

constexpr uint64_t kMaxGenerationConfigBytes = uint64_t{1} << 20;

std::string generation_config_path(const std::string& model_dir) {
  return (std::filesystem::path(model_dir) / "generation_config.json").string();
}

// The parsed file, or nullopt when the folder has none. Throws tern::Error naming it when
// it is not a regular file within the size limit, not JSON, or not an object.
std::optional<JsonNode> load_generation_config(const std::string& model_dir) {
  const std::string path = generation_config_path(model_dir);
  if (!std::filesystem::exists(path)) return std::nullopt;
  JsonNode root = load_json_node(path, kMaxGenerationConfigBytes);
  if (!root.value().is_object()) root.fail("expected a JSON object");
  return root;
}

}  // namespace

server::SamplingDefaults read_sampling_defaults(const std::string& model_dir) {
  server::SamplingDefaults d;
  const std::optional<JsonNode> root = load_generation_config(model_dir);
  if (!root) return d;
  const std::string file = generation_config_path(model_dir);
  // Each key, when it holds a number within the range a request may give.
  const auto number = [&](const char* key, double lo, double hi, bool lo_open) -> std::optional<double> {
    const std::optional<JsonNode> field = root->field(key);
    if (!field) return std::nullopt;
    const double v = field->as_number();
    if (v > hi || v < lo || (lo_open && v == lo)) {
      log_warn(file, ": ", field->path(), " = ", field->value().dump(),
               " is outside what a request may ask for; not applied");
      return std::nullopt;
    }
    return v;
  };
  d.temperature = number("temperature", 0.0, 2.0, false);
  d.top_p = number("top_p", 0.0, 1.0, true);
  d.min_p = number("min_p", 0.0, 1.0, false);
  d.repetition_penalty = number("repetition_penalty", 0.0, 100.0, true);
  if (const std::optional<double> k = number("top_k", -1.0, 2147483647.0, false)) {
    if (*k != double(int64_t(*k)))
      log_warn(file, ": top_k = ", *k, " is not an integer; not applied");
    else
      d.top_k = int64_t(*k);
  }
  return d;
}

std::vector<int32_t> read_generation_eos_ids(const std::string& model_dir) {
  std::vector<int32_t> ids;
  const std::optional<JsonNode> root = load_generation_config(model_dir);
  if (!root) return ids;
  const std::optional<JsonNode> eos = root->field("eos_token_id");
  if (!eos) return ids;
  const auto id = [](const JsonNode& node) {
    const int64_t v = node.as_integer();
    if (v < 0 || v > std::numeric_limits<int32_t>::max()) node.fail("token id ", v, " is out of range");
    return int32_t(v);
  };
  if (!eos->value().is_array()) {
    ids.push_back(id(*eos));
  } else {
    for (size_t i = 0; i < eos->size(); ++i) ids.push_back(id(eos->element(i)));
  }
  return ids;
}

}  // namespace tern::app
