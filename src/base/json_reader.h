// The one typed reader of parsed JSON: config.json, generation_config.json, tokenizer.json,
// tokenizer_config.json and request bodies all read their fields through it, so "is this
// an integer, and in range?" is decided in one place. What the caller says about a wrong
// field differs ("FILE: field 'x': ..." for a model file, a 400 naming `param` for a
// request), so a reader carries its caller's JsonReadPolicy, which turns a JsonReadProblem
// into that caller's exception.
//
// A field that is absent or null counts as absent, as transformers and OpenAI treat it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace tern {

enum class JsonType { kNull, kBoolean, kInteger, kNumber, kString, kArray, kObject };

// "an integer", "a string", ..., "null": for "expected an integer, got a string".
const char* json_type_name(JsonType type);

// What a read found wrong with a value.
struct JsonReadProblem {
  enum class Kind {
    kMissing,     // a required field is absent or null
    kWrongType,   // `got` is not `expected`
    kOutOfRange,  // an integer outside [int_min, int_max], a number outside its range
    kTooLong,     // a string longer than max_bytes
    kInvalid,     // the caller's own complaint, in `message`
  };
  Kind kind;
  std::string path;  // "rope_scaling.factor", "messages[2].content"; empty for the root
  JsonType expected = JsonType::kNull;
  JsonType got = JsonType::kNull;
  std::string shown;  // the value as JSON text, cut to 77 bytes (base/echo.h)
  // kOutOfRange of an integer (expected kInteger): [int_min, int_max].
  int64_t int_min = 0, int_max = 0;
  // kOutOfRange of a number (expected kNumber): finite and in [min, max], or (min, max]
  // when min_open.
  double min = 0, max = 0;
  bool min_open = false;
  bool finite = true;
  size_t max_bytes = 0;  // kTooLong
  std::string message;   // kInvalid
};

// The default words for a problem, without the path: "expected an integer, got a string",
// "must be in [0.0, 2.0], got 3.0", "must be at least 1, got 0", "is longer than 64 bytes",
// "is required". Request errors use them as they are.
std::string describe(const JsonReadProblem& problem);

struct JsonReadPolicy {
  // Throws the caller's exception for `problem`; must not return.
  std::function<void(const JsonReadProblem&)> fail;
  // Whether an integral float (10.0) reads as an integer: yes for requests (JavaScript
  // clients cannot tell them apart), no for model files (transformers would not either).
  bool integral_floats_are_integers = false;
  // Whether an integer beyond int64 reads as int64's nearest end, for the range check to
  // judge: a request's max_tokens of 2^63 is then "you requested 9223372036854775807
  // tokens", as vLLM says. Model files refuse it as out of range.
  bool saturate_beyond_int64 = false;
};

// `value` as an int64 if it is an integer within int64's range (an integral float too,
// when `integral_floats` says so), exactly: 2^63 and 1e30 are not.
template <class Json>
std::optional<int64_t> json_int64(const Json& value, bool integral_floats);

template <class Json>
JsonType json_type(const Json& value);

template <class Json>
const char* json_type_name(const Json& value) {
  return json_type_name(json_type(value));
}

// A JSON value and its path. Readers of the fields of an object keep the path
// ("messages[2].content") and the policy, and may keep the whole document alive.
template <class Json>
class JsonReader {
 public:
  static constexpr double kNoMax = std::numeric_limits<double>::max();
  static constexpr double kNoMin = -kNoMax;

  // `value` must outlive the reader (and its children).
  JsonReader(const Json& value, std::string path, std::shared_ptr<const JsonReadPolicy> policy);
  // A reader that owns the document.
  static JsonReader owning(Json document, std::string path, std::shared_ptr<const JsonReadPolicy> policy);

  const Json& value() const { return *value_; }
  const std::string& path() const { return path_; }
  // "path.key" (or "key" at the root): the name problems report. Keys are echoed short.
  std::string field_path(std::string_view key) const;
  // A reader of another value under this one's policy and document (a list element that
  // reports under its list's name, say).
  JsonReader at(const Json& value, std::string path) const {
    return JsonReader(root_, &value, std::move(path), policy_);
  }

  // Fields of an object (a problem when this is not one). Absent and null are nullptr.
  const Json* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  std::optional<JsonReader> field(std::string_view key) const;
  JsonReader required(std::string_view key) const;  // kMissing when absent or null

  // Elements of an array (a problem when this is not one).
  size_t size() const;
  JsonReader element(size_t index) const;

  // This value, typed; each a problem when the type or range is wrong.
  void expect_object() const;
  bool as_bool() const;
  std::string as_string(size_t max_bytes = std::numeric_limits<size_t>::max()) const;
  // A finite number in [min, max] ((min, max] when min_open).
  double as_number(double min = kNoMin, double max = kNoMax, bool min_open = false) const;
  // An integer in [min, max]; one beyond int64 is out of range (or saturates, as the policy
  // says), never wrapped.
  int64_t as_integer(int64_t min = std::numeric_limits<int64_t>::min(),
                     int64_t max = std::numeric_limits<int64_t>::max()) const;

  // A field, typed as above; nullopt when absent or null.
  std::optional<bool> boolean(std::string_view key) const;
  std::optional<std::string> string(std::string_view key, size_t max_bytes = std::numeric_limits<size_t>::max()) const;
  std::optional<double> number(std::string_view key, double min = kNoMin, double max = kNoMax,
                               bool min_open = false) const;
  std::optional<int64_t> integer(std::string_view key, int64_t min = std::numeric_limits<int64_t>::min(),
                                 int64_t max = std::numeric_limits<int64_t>::max()) const;
  std::optional<JsonReader> object(std::string_view key) const;

  // The caller's own complaint about this value, or about one of its fields, through the
  // policy: fail("is not sorted"), fail_at("head_dim", 7, " is odd").
  template <typename... Args>
  [[noreturn]] void fail(Args&&... args) const {
    fail_with(path_, detail::concat(std::forward<Args>(args)...));
  }
  template <typename... Args>
  [[noreturn]] void fail_at(std::string_view key, Args&&... args) const {
    fail_with(field_path(key), detail::concat(std::forward<Args>(args)...));
  }

 private:
  JsonReader(std::shared_ptr<const Json> root, const Json* value, std::string path,
             std::shared_ptr<const JsonReadPolicy> policy)
      : root_(std::move(root)), value_(value), path_(std::move(path)), policy_(std::move(policy)) {}
  [[noreturn]] void report(JsonReadProblem problem) const;
  [[noreturn]] void wrong_type(JsonType expected) const;
  [[noreturn]] void fail_with(std::string path, std::string message) const;

  std::shared_ptr<const Json> root_;  // null when the caller owns the document
  const Json* value_;
  std::string path_;
  std::shared_ptr<const JsonReadPolicy> policy_;
};

extern template class JsonReader<nlohmann::json>;
extern template class JsonReader<nlohmann::ordered_json>;

}  // namespace tern
