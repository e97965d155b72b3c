// Strict JSON parsing, shared by model files (model/json_file.h) and request bodies
// (server/json_body.h). nlohmann::json on its own keeps the last of two equal keys, which
// lets a crafted file or request hide a field from whoever checked the first, recurses as
// deep as the text nests, and has no bound on the keys of one object. Each caller turns a
// JsonProblem into its own error type (tern::Error naming the file, ApiError naming the
// field).
#pragma once

#include <cstddef>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/echo.h"
#include "base/json_depth.h"

namespace tern {

struct JsonLimits {
  int max_depth = 32;  // arrays and objects, checked by one scan before the parser runs
  size_t max_object_keys = std::numeric_limits<size_t>::max();
};

// Why strict_json_parse refused its text.
struct JsonProblem {
  enum class Kind { kTooDeep, kRepeatedKey, kTooManyKeys, kNumberTooLarge, kSyntax };
  Kind kind;
  // "a.b": the keys being read in the open objects, naming the field: of the object for
  // kRepeatedKey and kTooManyKeys, of the number for kNumberTooLarge; empty at the top.
  std::string key_path;
  // The repeated key, or nlohmann's description of a syntax error (byte position and what
  // it expected). Keys and quoted input are cut to kMaxEchoBytes (base/echo.h), here and
  // in key_path.
  std::string detail;
};

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 9: syntax
// error while parsing value - invalid literal; last read: '<token>'; expected ..." without
// the prefix, and with the token (as long as the input, for an unterminated string) cut.
inline std::string json_syntax_detail(std::string_view what) {
  if (const size_t at = what.find("] "); at != std::string_view::npos) what.remove_prefix(at + 2);
  constexpr std::string_view kLastRead = "; last read: '";
  const size_t open = what.find(kLastRead);
  if (open == std::string_view::npos) return std::string(what);
  const size_t token = open + kLastRead.size();
  size_t close = what.rfind("'; expected");
  if (close == std::string_view::npos || close < token) close = what.rfind('\'');
  if (close == std::string_view::npos || close < token) close = what.size();
  return std::string(what.substr(0, token)) + echo(what.substr(token, close - token)) + std::string(what.substr(close));
}

// Parses `text` as Json (nlohmann::json or nlohmann::ordered_json) and throws
// `make_error(problem)` when it breaks a rule above or is not JSON.
template <class Json, class MakeError>
Json strict_json_parse(std::string_view text, const JsonLimits& limits, MakeError make_error) {
  using Kind = JsonProblem::Kind;
  if (json_nesting_depth(text, limits.max_depth) > limits.max_depth)
    throw make_error(JsonProblem{Kind::kTooDeep, {}, {}});
  // One key set per open object, to find repeated keys as the parser meets them, and the
  // key being read in each, to name a field.
  std::vector<std::unordered_set<std::string>> open_objects;
  std::vector<std::string> open_keys;
  auto key_path = [&](size_t depth) {
    std::string path;
    for (size_t i = 0; i < depth; ++i) path += (path.empty() ? "" : ".") + echo(open_keys[i]);
    return path;
  };
  const typename Json::parser_callback_t check = [&](int, typename Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open_objects.emplace_back();
        open_keys.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        open_objects.pop_back();
        open_keys.pop_back();
        break;
      case Json::parse_event_t::key: {
        const std::string& key = parsed.template get_ref<const std::string&>();
        if (!open_objects.back().insert(key).second)
          throw make_error(JsonProblem{Kind::kRepeatedKey, key_path(open_keys.size() - 1), echo(key)});
        if (open_objects.back().size() > limits.max_object_keys)
          throw make_error(JsonProblem{Kind::kTooManyKeys, key_path(open_keys.size() - 1), {}});
        open_keys.back() = key;
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    return Json::parse(text, check);
  } catch (const typename Json::out_of_range&) {
    // 1e309 and the like: valid JSON, but no double holds it (it would read as inf).
    throw make_error(JsonProblem{Kind::kNumberTooLarge, key_path(open_keys.size()), {}});
  } catch (const typename Json::exception& e) {
    throw make_error(JsonProblem{Kind::kSyntax, {}, json_syntax_detail(e.what())});
  }
}

}  // namespace tern
