#include "server/tool_call_parser.h"

#include <nlohmann/json.hpp>

#include "server/json_body.h"

namespace tern::server {
namespace {

constexpr std::string_view kOpen = "<tool_call>";
constexpr std::string_view kClose = "</tool_call>";

// Length of the longest suffix of `text` that is a proper prefix of `tag`.
size_t partial_tag_suffix(std::string_view text, std::string_view tag) {
  for (size_t len = std::min(text.size(), tag.size() - 1); len > 0; --len) {
    if (text.substr(text.size() - len) == tag.substr(0, len)) return len;
  }
  return 0;
}

bool is_blank(std::string_view text) { return text.find_first_not_of(" \t\r\n") == std::string_view::npos; }

bool parse_call(std::string_view body, ParsedToolCall& call) {
  Json json;
  try {
    json = parse_json_text(body, "tool call");
  } catch (const std::exception&) {
    return false;
  }
  if (!json.is_object()) return false;
  const auto name = json.find("name");
  if (name == json.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) return false;
  const auto arguments = json.find("arguments");
  if (arguments == json.end()) {
    call.arguments = "{}";
  } else if (arguments->is_object()) {
    call.arguments = arguments->dump();
  } else if (arguments->is_string()) {
    call.arguments = arguments->get<std::string>();  // already serialised by the model
  } else {
    return false;
  }
  call.name = name->get<std::string>();
  return true;
}

}  // namespace

ToolCallDelta ToolCallParser::push(std::string_view text) {
  pending_.append(text);
  ToolCallDelta out;
  scan(out);
  return out;
}

void ToolCallParser::scan(ToolCallDelta& out) {
  while (true) {
    if (!in_call_) {
      const size_t open = pending_.find(kOpen);
      const size_t end = open == std::string::npos ? pending_.size() - partial_tag_suffix(pending_, kOpen) : open;
      // Between and after calls the model writes newlines; they are not content. Hold
      // whitespace after a call until something else shows up.
      const bool blank = seen_call_ && is_blank(std::string_view(pending_).substr(0, end));
      if (open == std::string::npos) {
        if (!blank) {
          out.content.append(pending_, 0, end);
          pending_.erase(0, end);
        }
        return;
      }
      if (!blank) out.content.append(pending_, 0, open);
      pending_.erase(0, open + kOpen.size());
      in_call_ = true;
    }
    const size_t close = pending_.find(kClose);
    if (close == std::string::npos) return;
    ParsedToolCall call;
    if (parse_call(std::string_view(pending_).substr(0, close), call)) {
      out.calls.push_back(std::move(call));
      seen_call_ = true;
    } else {
      out.content.append(kOpen).append(pending_, 0, close + kClose.size());
    }
    pending_.erase(0, close + kClose.size());
    in_call_ = false;
  }
}

ToolCallDelta ToolCallParser::finish() {
  ToolCallDelta out;
  if (in_call_) {
    out.content.append(kOpen).append(pending_);
  } else if (!(seen_call_ && is_blank(pending_))) {
    out.content.append(pending_);
  }
  pending_.clear();
  in_call_ = false;
  return out;
}

}  // namespace tern::server
