#include "server/json_body.h"

#include <string>
#include <unordered_set>
#include <vector>

#include "base/json_depth.h"
#include "server/api_error.h"

namespace tern::server {
namespace {

ApiError bad_body(const std::string& message) { return ApiError(ApiErrorKind::kInvalidRequest, message); }

// Checked before parsing, so a 10^6-deep body costs one linear scan and nothing else.
void check_depth(std::string_view body, const std::string& what) {
  if (json_nesting_depth(body, kMaxJsonDepth) > kMaxJsonDepth)
    throw bad_body(what + " is nested more than " + std::to_string(kMaxJsonDepth) + " levels deep");
}

// "a.b.c": the keys being read in the first `depth` open objects, naming a field for errors.
std::string key_path(const std::vector<std::string>& open_keys, size_t depth) {
  std::string path;
  for (size_t i = 0; i < depth; ++i) path += (path.empty() ? "" : ".") + open_keys[i];
  return path;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    int len = 0;
    uint32_t cp = 0;
    if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<size_t>(len) > n) return false;
    for (int k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(text[i + static_cast<size_t>(k)]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += static_cast<size_t>(len);
  }
  return true;
}

Json parse_json_text(std::string_view body, const std::string& what) {
  if (!is_valid_utf8(body)) throw bad_body(what + " is not valid UTF-8");
  check_depth(body, what);
  // One key set per open object, to find repeated keys as the parser meets them, and the
  // key being read in each, to name the field of a number too large for a double.
  std::vector<std::unordered_set<std::string>> open_objects;
  std::vector<std::string> open_keys;
  const Json::parser_callback_t reject_duplicates = [&](int, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open_objects.emplace_back();
        open_keys.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        open_objects.pop_back();
        open_keys.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!open_objects.back().insert(parsed.get<std::string>()).second) {
          throw bad_body(what + " repeats the key \"" + parsed.get<std::string>() + "\" in one object");
        }
        if (open_objects.back().size() > kMaxObjectKeys) {
          const std::string param = key_path(open_keys, open_keys.size() - 1);
          const std::string limit = "has more than " + std::to_string(kMaxObjectKeys) + " keys";
          if (param.empty()) throw bad_body(what + " " + limit);
          throw ApiError(ApiErrorKind::kInvalidRequest, param + ": the object " + limit, param);
        }
        open_keys.back() = parsed.get<std::string>();
        break;
      default:
        break;
    }
    return true;
  };
  Json json;
  try {
    json = Json::parse(body, reject_duplicates);
  } catch (const Json::out_of_range& e) {
    // 1e309 and the like: valid JSON, but no double holds it (it would read as inf).
    const std::string param = key_path(open_keys, open_keys.size());
    if (param.empty()) throw bad_body(what + " holds a number too large for a double");
    throw ApiError(ApiErrorKind::kInvalidRequest, param + ": the number is too large for a double", param);
  } catch (const Json::exception& e) {
    // A syntax error. nlohmann's text names the byte position and what it expected; it
    // quotes at most a few bytes of the client's input.
    std::string detail = e.what();
    if (const size_t at = detail.find("] "); at != std::string::npos) detail = detail.substr(at + 2);
    throw bad_body(what + " is not valid JSON: " + detail);
  }
  return json;
}

Json parse_json_body(std::string_view body) {
  Json json = parse_json_text(body, "the request body");
  if (!json.is_object()) throw bad_body("the request body must be a JSON object");
  return json;
}

}  // namespace tern::server
