// Typed access to the fields of a request object. Every accessor returns nullopt for an
// absent or null field and throws an ApiError 400 naming the field (its full path, as
// "messages[2].content") when the value has the wrong type or is out of range.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/json_body.h"

namespace tern::server {

class JsonFields {
 public:
  // `object` must outlive this reader. Throws if it is not a JSON object.
  JsonFields(const Json& object, std::string path);

  // The field's value, nullptr when absent or null.
  const Json* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // "prefix.key" (or "key" at the top level): the name errors report.
  std::string param(std::string_view key) const;

  std::optional<bool> boolean(std::string_view key) const;
  // A finite number in [min, max].
  std::optional<double> number(std::string_view key, double min, double max) const;
  // An integer (integral floats such as 10.0 count) in [min, max]; values beyond the
  // int64 range read as its ends, so huge values fail the range check, never overflow.
  std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max) const;
  // A string of at most max_bytes bytes.
  std::optional<std::string> string(std::string_view key, size_t max_bytes) const;
  // A JSON object, as a reader with this reader's path extended.
  std::optional<JsonFields> object(std::string_view key) const;

  const Json& json() const { return *object_; }

 private:
  const Json* object_;
  std::string path_;
};

// The same checks for a value that is not a field of an object (a list element).
// Returns nullopt when `value` is not an integer; saturates like JsonFields::integer.
std::optional<int64_t> json_integer(const Json& value);
// Whether `value` is a number that is an integer within int64's range, exactly (no
// saturation): 2^63 and 1e30 are not.
bool json_fits_int64(const Json& value);
const char* json_type_name(const Json& value);

}  // namespace tern::server
