// Reading a model folder's tokenizer.json, tokenizer_config.json and generation_config.json:
// parsed by the strict parser (base/strict_json_parse.h: a repeated key is an error, not
// last-wins) and read by the shared typed reader (base/json_reader.h), so every wrong type
// is a tern::Error naming the file and field: "DIR/tokenizer.json: model.merges[3]:
// expected a string, found number".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/json_reader.h"

namespace tern {

using JsonNode = JsonReader<nlohmann::json>;

// Reads and parses `path`, a regular file of at most max_bytes (base/regular_file.h).
// Nesting deeper than `max_depth` is rejected before parsing, so a hostile file cannot
// exhaust the stack; so is a key repeated within one object. Throws tern::Error naming
// the file. The node owns the document.
JsonNode load_json_node(const std::string& path, uint64_t max_bytes, int max_depth = 64);
// The same for JSON text already in memory; `label` stands for the file in messages.
JsonNode parse_json_node(std::string_view text, const std::string& label, int max_depth = 64);

}  // namespace tern
