#include "server/json_fields.h"

#include <cmath>
#include <limits>

#include "base/echo.h"
#include "server/api_error.h"

namespace tern::server {
namespace {

std::string format_number(double value) {
  Json j = value;
  return j.dump();
}

}  // namespace

const char* json_type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a number";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::object:
      return "an object";
    default:
      return "an unsupported value";
  }
}

std::optional<int64_t> json_integer(const Json& value) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    return u > static_cast<uint64_t>(kMax) ? kMax : static_cast<int64_t>(u);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) return std::nullopt;
    if (d >= 9.2e18) return kMax;
    if (d <= -9.2e18) return kMin;
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

bool json_fits_int64(const Json& value) {
  if (value.is_number_unsigned())
    return value.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (value.is_number_integer()) return true;
  if (!value.is_number_float()) return false;
  // [-2^63, 2^63): both ends are exact doubles.
  const double d = value.get<double>();
  return std::isfinite(d) && d == std::floor(d) && d >= -0x1p63 && d < 0x1p63;
}

JsonFields::JsonFields(const Json& object, std::string path) : object_(&object), path_(std::move(path)) {
  if (!object.is_object()) {
    throw ApiError(
        ApiErrorKind::kInvalidRequest,
        (path_.empty() ? std::string("the body") : path_) + " must be an object, got " + json_type_name(object),
        path_.empty() ? std::nullopt : std::optional<std::string>(path_));
  }
}

const Json* JsonFields::find(std::string_view key) const {
  const auto it = object_->find(key);
  if (it == object_->end() || it->is_null()) return nullptr;
  return &*it;
}

std::string JsonFields::param(std::string_view key) const {
  // Keys can be anything the client sent (chat_template_kwargs' keys, say).
  return path_.empty() ? echo(key) : path_ + "." + echo(key);
}

std::optional<bool> JsonFields::boolean(std::string_view key) const {
  const Json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) throw invalid_param(param(key), std::string("expected a boolean, got ") + json_type_name(*v));
  return v->get<bool>();
}

std::optional<double> JsonFields::number(std::string_view key, double min, double max) const {
  const Json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw invalid_param(param(key), std::string("expected a number, got ") + json_type_name(*v));
  const double d = v->get<double>();
  if (!std::isfinite(d) || d < min || d > max) {
    throw invalid_param(param(key), "must be in [" + format_number(min) + ", " + format_number(max) + "], got " +
                                        (std::isfinite(d) ? format_number(d) : std::string("a non-finite number")));
  }
  return d;
}

std::optional<int64_t> JsonFields::integer(std::string_view key, int64_t min, int64_t max) const {
  const Json* v = find(key);
  if (!v) return std::nullopt;
  const std::optional<int64_t> i = json_integer(*v);
  if (!i) throw invalid_param(param(key), std::string("expected an integer, got ") + json_type_name(*v));
  if (*i < min || *i > max) {
    const std::string range = max == std::numeric_limits<int64_t>::max()
                                  ? "must be at least " + std::to_string(min)
                                  : "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
    throw invalid_param(param(key),
                        range + ", got " + (v->is_number_float() ? format_number(v->get<double>()) : v->dump()));
  }
  return i;
}

std::optional<std::string> JsonFields::string(std::string_view key, size_t max_bytes) const {
  const Json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw invalid_param(param(key), std::string("expected a string, got ") + json_type_name(*v));
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    throw invalid_param(param(key), "is longer than " + std::to_string(max_bytes) + " bytes");
  }
  return s;
}

std::optional<JsonFields> JsonFields::object(std::string_view key) const {
  const Json* v = find(key);
  if (!v) return std::nullopt;
  return JsonFields(*v, param(key));
}

}  // namespace tern::server
