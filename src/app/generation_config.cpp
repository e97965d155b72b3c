#include "app/generation_config.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "base/error.h"
#include "base/log.h"
#include "base/strict_json_parse.h"

namespace tern::app {

server::SamplingDefaults read_sampling_defaults(const std::string& model_dir) {
  const std::filesystem::path path = std::filesystem::path(model_dir) / "generation_config.json";
  server::SamplingDefaults d;
  std::ifstream f(path, std::ios::binary);
  if (!f) return d;
  const std::string text{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  const nlohmann::ordered_json j = strict_json_parse<nlohmann::ordered_json>(
      text, JsonLimits{},
      [&](const JsonProblem& p) { return error(path.string(), ": not valid JSON (", p.detail, ")"); });
  if (!j.is_object()) throw error(path.string(), ": expected a JSON object");
  // Each key, when it holds a number within the range a request may give.
  const auto number = [&](const char* key, double lo, double hi, bool lo_open) -> std::optional<double> {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_number() || it->get<double>() > hi || it->get<double>() < lo || (lo_open && it->get<double>() == lo)) {
      log_warn(path.string(), ": ", key, " = ", it->dump(), " is outside what a request may ask for; not applied");
      return std::nullopt;
    }
    return it->get<double>();
  };
  d.temperature = number("temperature", 0.0, 2.0, false);
  d.top_p = number("top_p", 0.0, 1.0, true);
  d.min_p = number("min_p", 0.0, 1.0, false);
  d.repetition_penalty = number("repetition_penalty", 0.0, 100.0, true);
  if (const std::optional<double> k = number("top_k", -1.0, 2147483647.0, false)) {
    if (*k != double(int64_t(*k)))
      log_warn(path.string(), ": top_k = ", *k, " is not an integer; not applied");
    else
      d.top_k = int64_t(*k);
  }
  return d;
}

}  // namespace tern::app
