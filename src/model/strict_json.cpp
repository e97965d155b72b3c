#include "model/strict_json.h"

#include <set>
#include <vector>

#include "base/error.h"
#include "model/mapped_file.h"

namespace tern {

nlohmann::json parse_json_strict(std::string_view text, const std::string& source, int max_depth) {
  using nlohmann::json;
  // One set of seen keys per open object; arrays hold no keys but still count for depth.
  std::vector<std::set<std::string>> keys;
  int depth = 0;
  auto check = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (++depth > max_depth) throw error(source, ": JSON nested deeper than ", max_depth, " levels");
        if (event == json::parse_event_t::object_start) keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        keys.pop_back();
        --depth;
        break;
      case json::parse_event_t::array_end:
        --depth;
        break;
      case json::parse_event_t::key:
        if (!keys.back().insert(parsed.get<std::string>()).second)
          throw error(source, ": key '", parsed.get<std::string>(), "' appears twice in one object");
        break;
      case json::parse_event_t::value:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), check);
  } catch (const json::exception& e) {
    throw error(source, ": not valid JSON: ", e.what());
  }
}

nlohmann::json load_json_file(const std::string& path, uint64_t max_bytes, int max_depth) {
  MappedFile file(path);
  if (file.size() > max_bytes)
    throw error(path, ": ", file.size(), " bytes, more than the ", max_bytes, "-byte limit for this file");
  std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
  return parse_json_strict(text, path, max_depth);
}

}  // namespace tern
