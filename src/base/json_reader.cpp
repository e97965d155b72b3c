#include "base/json_reader.h"

#include <cmath>
#include <stdexcept>

#include "base/echo.h"

namespace tern {
namespace {

// Model files quote a wrong value in full up to here (config.json's old width).
constexpr size_t kMaxShownBytes = 77;

template <class Json>
std::string shown(const Json& value) {
  return echo(value.dump(-1, ' ', false, Json::error_handler_t::replace), kMaxShownBytes);
}

// A bound as JSON writes a double: 0.0, 2.0, 1e+30.
std::string bound(double value) { return nlohmann::json(value).dump(); }

}  // namespace

const char* json_type_name(JsonType type) {
  switch (type) {
    case JsonType::kNull:
      return "null";
    case JsonType::kBoolean:
      return "a boolean";
    case JsonType::kInteger:
      return "an integer";
    case JsonType::kNumber:
      return "a number";
    case JsonType::kString:
      return "a string";
    case JsonType::kArray:
      return "an array";
    case JsonType::kObject:
      return "an object";
  }
  return "an unsupported value";
}

std::string describe(const JsonReadProblem& p) {
  using Kind = JsonReadProblem::Kind;
  switch (p.kind) {
    case Kind::kMissing:
      return "is required";
    case Kind::kWrongType:
      return std::string("expected ") + json_type_name(p.expected) + ", got " + json_type_name(p.got);
    case Kind::kOutOfRange:
      if (p.expected == JsonType::kInteger) {
        const std::string range =
            p.int_max == std::numeric_limits<int64_t>::max()
                ? "must be at least " + std::to_string(p.int_min)
                : "must be in [" + std::to_string(p.int_min) + ", " + std::to_string(p.int_max) + "]";
        return range + ", got " + p.shown;
      }
      return std::string("must be in ") + (p.min_open ? "(" : "[") + bound(p.min) + ", " + bound(p.max) + "], got " +
             (p.finite ? p.shown : std::string("a non-finite number"));
    case Kind::kTooLong:
      return "is longer than " + std::to_string(p.max_bytes) + " bytes";
    case Kind::kInvalid:
      break;
  }
  return p.message;
}

template <class Json>
JsonType json_type(const Json& value) {
  switch (value.type()) {
    case Json::value_t::boolean:
      return JsonType::kBoolean;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return JsonType::kInteger;
    case Json::value_t::number_float:
      return JsonType::kNumber;
    case Json::value_t::string:
      return JsonType::kString;
    case Json::value_t::array:
      return JsonType::kArray;
    case Json::value_t::object:
      return JsonType::kObject;
    default:
      return JsonType::kNull;
  }
}

template <class Json>
std::optional<int64_t> json_int64(const Json& value, bool integral_floats) {
  if (value.is_number_unsigned()) {
    const uint64_t u = value.template get<uint64_t>();
    if (u > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return int64_t(u);
  }
  if (value.is_number_integer()) return value.template get<int64_t>();
  if (!integral_floats || !value.is_number_float()) return std::nullopt;
  // [-2^63, 2^63): both ends are exact doubles.
  const double d = value.template get<double>();
  if (!std::isfinite(d) || d != std::floor(d) || d < -0x1p63 || d >= 0x1p63) return std::nullopt;
  return int64_t(d);
}

template <class Json>
JsonReader<Json>::JsonReader(const Json& value, std::string path, std::shared_ptr<const JsonReadPolicy> policy)
    : JsonReader(nullptr, &value, std::move(path), std::move(policy)) {}

template <class Json>
JsonReader<Json> JsonReader<Json>::owning(Json document, std::string path,
                                          std::shared_ptr<const JsonReadPolicy> policy) {
  auto root = std::make_shared<const Json>(std::move(document));
  const Json* value = root.get();
  return JsonReader(std::move(root), value, std::move(path), std::move(policy));
}

template <class Json>
std::string JsonReader<Json>::field_path(std::string_view key) const {
  // Keys can be anything a client sent (chat_template_kwargs' keys, say).
  return path_.empty() ? echo(key) : path_ + "." + echo(key);
}

template <class Json>
void JsonReader<Json>::report(JsonReadProblem problem) const {
  policy_->fail(problem);
  throw std::logic_error("JsonReadPolicy::fail returned for " + problem.path);
}

template <class Json>
void JsonReader<Json>::wrong_type(JsonType expected) const {
  report({.kind = JsonReadProblem::Kind::kWrongType,
          .path = path_,
          .expected = expected,
          .got = json_type(*value_),
          .shown = shown(*value_)});
}

template <class Json>
void JsonReader<Json>::fail_with(std::string path, std::string message) const {
  report({.kind = JsonReadProblem::Kind::kInvalid, .path = std::move(path), .message = std::move(message)});
}

template <class Json>
const Json* JsonReader<Json>::find(std::string_view key) const {
  expect_object();
  const auto it = value_->find(key);
  return it == value_->end() || it->is_null() ? nullptr : &*it;
}

template <class Json>
std::optional<JsonReader<Json>> JsonReader<Json>::field(std::string_view key) const {
  const Json* v = find(key);
  if (!v) return std::nullopt;
  return at(*v, field_path(key));
}

template <class Json>
JsonReader<Json> JsonReader<Json>::required(std::string_view key) const {
  if (std::optional<JsonReader> f = field(key)) return *f;
  report({.kind = JsonReadProblem::Kind::kMissing, .path = field_path(key)});
}

template <class Json>
size_t JsonReader<Json>::size() const {
  if (!value_->is_array()) wrong_type(JsonType::kArray);
  return value_->size();
}

template <class Json>
JsonReader<Json> JsonReader<Json>::element(size_t index) const {
  if (index >= size()) fail("index ", index, " out of range");
  return at((*value_)[index], path_ + "[" + std::to_string(index) + "]");
}

template <class Json>
void JsonReader<Json>::expect_object() const {
  if (!value_->is_object()) wrong_type(JsonType::kObject);
}

template <class Json>
bool JsonReader<Json>::as_bool() const {
  if (!value_->is_boolean()) wrong_type(JsonType::kBoolean);
  return value_->template get<bool>();
}

template <class Json>
std::string JsonReader<Json>::as_string(size_t max_bytes) const {
  if (!value_->is_string()) wrong_type(JsonType::kString);
  const auto& s = value_->template get_ref<const std::string&>();
  if (s.size() > max_bytes) report({.kind = JsonReadProblem::Kind::kTooLong, .path = path_, .max_bytes = max_bytes});
  return s;
}

template <class Json>
double JsonReader<Json>::as_number(double min, double max, bool min_open) const {
  if (!value_->is_number()) wrong_type(JsonType::kNumber);
  const double d = value_->template get<double>();
  if (!std::isfinite(d) || d < min || (min_open && d == min) || d > max) {
    report({.kind = JsonReadProblem::Kind::kOutOfRange,
            .path = path_,
            .expected = JsonType::kNumber,
            .got = json_type(*value_),
            .shown = shown(*value_),
            .min = min,
            .max = max,
            .min_open = min_open,
            .finite = std::isfinite(d)});
  }
  return d;
}

template <class Json>
int64_t JsonReader<Json>::as_integer(int64_t min, int64_t max) const {
  const bool floats = policy_->integral_floats_are_integers;
  std::optional<int64_t> i = json_int64(*value_, floats);
  const bool integral =
      value_->is_number_integer() || (floats && value_->is_number_float() &&
                                      value_->template get<double>() == std::floor(value_->template get<double>()));
  if (!integral) wrong_type(JsonType::kInteger);
  if (!i && policy_->saturate_beyond_int64) {
    const bool negative = value_->is_number_float() ? value_->template get<double>() < 0
                                                    : value_->is_number_integer() && !value_->is_number_unsigned();
    i = negative ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
  }
  if (!i || *i < min || *i > max) {
    report({.kind = JsonReadProblem::Kind::kOutOfRange,
            .path = path_,
            .expected = JsonType::kInteger,
            .got = json_type(*value_),
            .shown = shown(*value_),
            .int_min = min,
            .int_max = max});
  }
  return *i;
}

template <class Json>
std::optional<bool> JsonReader<Json>::boolean(std::string_view key) const {
  if (std::optional<JsonReader> f = field(key)) return f->as_bool();
  return std::nullopt;
}

template <class Json>
std::optional<std::string> JsonReader<Json>::string(std::string_view key, size_t max_bytes) const {
  if (std::optional<JsonReader> f = field(key)) return f->as_string(max_bytes);
  return std::nullopt;
}

template <class Json>
std::optional<double> JsonReader<Json>::number(std::string_view key, double min, double max, bool min_open) const {
  if (std::optional<JsonReader> f = field(key)) return f->as_number(min, max, min_open);
  return std::nullopt;
}

template <class Json>
std::optional<int64_t> JsonReader<Json>::integer(std::string_view key, int64_t min, int64_t max) const {
  if (std::optional<JsonReader> f = field(key)) return f->as_integer(min, max);
  return std::nullopt;
}

template <class Json>
std::optional<JsonReader<Json>> JsonReader<Json>::object(std::string_view key) const {
  std::optional<JsonReader> f = field(key);
  if (f) f->expect_object();
  return f;
}

template class JsonReader<nlohmann::json>;
template class JsonReader<nlohmann::ordered_json>;
template JsonType json_type(const nlohmann::json&);
template JsonType json_type(const nlohmann::ordered_json&);
template std::optional<int64_t> json_int64(const nlohmann::json&, bool);
template std::optional<int64_t> json_int64(const nlohmann::ordered_json&, bool);

}  // namespace tern
