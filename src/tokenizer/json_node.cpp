#include "tokenizer/json_node.h"

#include "base/json_depth.h"
#include "base/regular_file.h"

namespace tern {
namespace {

const char* type_name(const nlohmann::json& value) { return value.type_name(); }

}  // namespace

JsonNode JsonNode::parse_file(const std::string& path, uint64_t max_bytes, int max_depth) {
  return parse(read_regular_file(path, max_bytes), path, max_depth);
}

JsonNode JsonNode::parse(std::string_view text, const std::string& label, int max_depth) {
  if (json_nesting_depth(text, max_depth) > max_depth) {
    throw error(label, ": JSON nested deeper than ", max_depth, " levels");
  }
  auto root = std::make_shared<nlohmann::json>();
  try {
    *root = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw error(label, ": invalid JSON: ", e.what());
  }
  const nlohmann::json* value = root.get();
  return JsonNode(std::move(root), value, std::make_shared<const std::string>(label), "");
}

std::string JsonNode::where() const { return path_.empty() ? *file_ : *file_ + ": " + path_; }

bool JsonNode::has(std::string_view key) const {
  if (!value_->is_object()) return false;
  auto it = value_->find(key);
  return it != value_->end() && !it->is_null();
}

JsonNode JsonNode::field(std::string_view key) const {
  if (!value_->is_object()) fail("expected an object, found ", type_name(*value_));
  const std::string child_path = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  auto it = value_->find(key);
  if (it == value_->end() || it->is_null()) {
    throw error(*file_, ": ", child_path, ": missing");
  }
  return child(&*it, child_path);
}

std::optional<JsonNode> JsonNode::optional_field(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  return field(key);
}

JsonNode JsonNode::element(size_t index) const {
  if (!value_->is_array()) fail("expected an array, found ", type_name(*value_));
  if (index >= value_->size()) fail("index ", index, " out of range");
  return child(&(*value_)[index], path_ + "[" + std::to_string(index) + "]");
}

size_t JsonNode::size() const {
  if (!value_->is_array()) fail("expected an array, found ", type_name(*value_));
  return value_->size();
}

std::string JsonNode::as_string() const {
  if (!value_->is_string()) fail("expected a string, found ", type_name(*value_));
  return value_->get<std::string>();
}

bool JsonNode::as_bool() const {
  if (!value_->is_boolean()) fail("expected a boolean, found ", type_name(*value_));
  return value_->get<bool>();
}

int64_t JsonNode::as_int() const {
  if (!value_->is_number_integer()) fail("expected an integer, found ", type_name(*value_));
  return value_->get<int64_t>();
}

bool JsonNode::bool_or(std::string_view key, bool fallback) const { return has(key) ? field(key).as_bool() : fallback; }

std::string JsonNode::string_or(std::string_view key, std::string_view fallback) const {
  return has(key) ? field(key).as_string() : std::string(fallback);
}

}  // namespace tern
