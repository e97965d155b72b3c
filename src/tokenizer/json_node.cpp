#include "tokenizer/json_node.h"

#include "base/regular_file.h"
#include "base/strict_json_parse.h"

namespace tern {
namespace {

const char* type_name(const nlohmann::json& value) { return value.type_name(); }

}  // namespace

JsonNode JsonNode::parse_file(const std::string& path, uint64_t max_bytes, int max_depth) {
  return parse(read_regular_file(path, max_bytes), path, max_depth);
}

JsonNode JsonNode::parse(std::string_view text, const std::string& label, int max_depth) {
  using Kind = JsonProblem::Kind;
  auto root = std::make_shared<nlohmann::json>(
      strict_json_parse<nlohmann::json>(text, {.max_depth = max_depth}, [&](const JsonProblem& p) {
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
      }));
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

double JsonNode::as_number() const {
  if (!value_->is_number()) fail("expected a number, found ", type_name(*value_));
  return value_->get<double>();
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
