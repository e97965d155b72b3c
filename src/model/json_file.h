// JSON files of a model folder (config.json, model.safetensors.index.json, a safetensors
// header): read with a size limit and parsed by the strict parser (base/strict_json_parse.h),
// whose problems become tern::Error naming the file. nlohmann::json on its own keeps the
// last of two equal keys and accepts any nesting, which would let a crafted file hide a
// field or exhaust memory.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace tern {

// Parses `text`; a syntax error, a key repeated within one object, or containers nested
// deeper than `max_depth` throw tern::Error "<source>: ...".
nlohmann::json parse_json_strict(std::string_view text, const std::string& source, int max_depth = 32);

// Maps the file at `path` and parses it as above. Throws tern::Error naming the file if it
// is missing, larger than `max_bytes`, or not valid JSON.
nlohmann::json load_json_file(const std::string& path, uint64_t max_bytes, int max_depth = 32);

}  // namespace tern
