// Reading a model folder's tokenizer.json, tokenizer_config.json and generation_config.json:
// parsed by the strict parser (base/strict_json_parse.h: a repeated key is an error, not
// last-wins), and read as a JSON value that knows where it sits ("DIR/tokenizer.json:
// model.merges[3]"), so every wrong type is an error naming the file and field.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace tern {

class JsonNode {
 public:
  // Reads and parses `path`, a regular file of at most max_bytes (base/regular_file.h).
  // Nesting deeper than `max_depth` is rejected before parsing, so a hostile file cannot
  // exhaust the stack; so is a key repeated within one object. Throws tern::Error naming
  // the file.
  static JsonNode parse_file(const std::string& path, uint64_t max_bytes, int max_depth = 64);
  // The same for JSON text already in memory; `label` stands for the file in messages.
  static JsonNode parse(std::string_view text, const std::string& label, int max_depth = 64);

  const nlohmann::json& value() const { return *value_; }
  const std::string& path() const { return path_; }
  // "FILE: path" for messages.
  std::string where() const;

  bool has(std::string_view key) const;        // present and not null
  JsonNode field(std::string_view key) const;  // throws when missing or null
  std::optional<JsonNode> optional_field(std::string_view key) const;
  JsonNode element(size_t index) const;
  size_t size() const;  // elements of an array (throws for other types)

  std::string as_string() const;
  bool as_bool() const;
  double as_number() const;  // an integer or a floating-point number
  int64_t as_int() const;
  // A field that may be absent: its value or `fallback`.
  bool bool_or(std::string_view key, bool fallback) const;
  std::string string_or(std::string_view key, std::string_view fallback) const;

  template <typename... Args>
  [[noreturn]] void fail(Args&&... args) const {
    throw error(where(), ": ", std::forward<Args>(args)...);
  }

 private:
  JsonNode(std::shared_ptr<const nlohmann::json> root, const nlohmann::json* value,
           std::shared_ptr<const std::string> file, std::string path)
      : root_(std::move(root)), value_(value), file_(std::move(file)), path_(std::move(path)) {}
  JsonNode child(const nlohmann::json* value, std::string path) const {
    return JsonNode(root_, value, file_, std::move(path));
  }

  std::shared_ptr<const nlohmann::json> root_;  // keeps value_ alive
  const nlohmann::json* value_;
  std::shared_ptr<const std::string> file_;
  std::string path_;
};

}  // namespace tern
