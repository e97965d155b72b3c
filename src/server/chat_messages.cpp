#include "server/chat_messages.h"

#include <cctype>
#include <string>

#include "server/api_error.h"
#include "server/valid_request.h"

namespace tern::server {
namespace {

constexpr size_t kMaxNameBytes = 256;

std::string at(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

// A string, or a list of {"type": "text", "text": ...} parts joined by newlines.
std::string content_text(const Json& content, const std::string& param) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) {
    throw invalid_param(param,
                        std::string("expected a string or an array of content parts, got ") + json_type_name(content));
  }
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const JsonFields part = request_fields(content[i], at(param, i));
    const std::optional<std::string> type = part.string("type", 64);
    if (type != "text") {
      throw invalid_param(part.field_path("type"), "only text content parts are supported, got " +
                                                  (type ? "\"" + *type + "\"" : std::string("none")));
    }
    const std::optional<std::string> part_text = part.string("text", std::string::npos);
    if (!part_text) throw invalid_param(part.field_path("text"), "is required");
    if (i) text += "\n";
    text += *part_text;
  }
  return text;
}

Json normalize_tool_call(const Json& call, const std::string& path) {
  const JsonFields fields = request_fields(call, path);
  const std::optional<std::string> type = fields.string("type", 64);
  if (type && *type != "function") throw invalid_param(fields.field_path("type"), "only \"function\" tool calls exist");
  const std::optional<JsonFields> function = fields.object("function");
  if (!function) throw invalid_param(fields.field_path("function"), "is required");
  const std::optional<std::string> name = function->string("name", kMaxNameBytes);
  if (!name) throw invalid_param(function->field_path("name"), "is required");
  Json arguments = Json::object();
  if (const Json* args = function->find("arguments")) {
    if (args->is_string()) {
      try {
        arguments = parse_json_text(args->get_ref<const std::string&>(), function->field_path("arguments"));
      } catch (const ApiError& e) {
        throw ApiError(ApiErrorKind::kInvalidRequest, e.message(), function->field_path("arguments"));
      }
    } else {
      arguments = *args;
    }
    if (!arguments.is_object()) throw invalid_param(function->field_path("arguments"), "must encode a JSON object");
  }
  Json out = {{"type", "function"}, {"function", {{"name", *name}, {"arguments", std::move(arguments)}}}};
  if (const std::optional<std::string> id = fields.string("id", kMaxNameBytes)) out["id"] = *id;
  return out;
}

Json normalize_message(const Json& message, const std::string& path) {
  const JsonFields fields = request_fields(message, path);
  const std::optional<std::string> role = fields.string("role", 64);
  if (!role) throw invalid_param(fields.field_path("role"), "is required");
  Json out = Json::object();
  if (*role == "system" || *role == "developer") {
    out["role"] = "system";
  } else if (*role == "user" || *role == "assistant" || *role == "tool") {
    out["role"] = *role;
  } else {
    throw invalid_param(fields.field_path("role"),
                        "must be one of system, developer, user, assistant, tool; got \"" + *role + "\"");
  }
  const Json* content = fields.find("content");
  const Json* tool_calls = fields.find("tool_calls");
  if (tool_calls && *role != "assistant")
    throw invalid_param(fields.field_path("tool_calls"), "only assistant messages carry tool calls");
  if (content) {
    out["content"] = content_text(*content, fields.field_path("content"));
  } else if (*role == "assistant" && tool_calls) {
    out["content"] = nullptr;
  } else {
    throw invalid_param(fields.field_path("content"), "is required");
  }
  if (tool_calls) {
    if (!tool_calls->is_array()) throw invalid_param(fields.field_path("tool_calls"), "expected an array");
    Json calls = Json::array();
    for (size_t i = 0; i < tool_calls->size(); ++i) {
      calls.push_back(normalize_tool_call((*tool_calls)[i], at(fields.field_path("tool_calls"), i)));
    }
    out["tool_calls"] = std::move(calls);
  }
  if (*role == "tool") {
    const std::optional<std::string> id = fields.string("tool_call_id", kMaxNameBytes);
    if (!id) throw invalid_param(fields.field_path("tool_call_id"), "is required for tool messages");
    out["tool_call_id"] = *id;
  }
  if (const std::optional<std::string> name = fields.string("name", kMaxNameBytes)) out["name"] = *name;
  return out;
}

}  // namespace

Json normalize_messages(const Json* messages) {
  if (!messages) throw invalid_param("messages", "is required");
  if (!messages->is_array()) {
    throw invalid_param("messages", std::string("expected an array of messages, got ") + json_type_name(*messages));
  }
  if (messages->empty()) throw invalid_param("messages", "must contain at least one message");
  if (messages->size() > kMaxMessages) {
    throw invalid_param("messages", "at most " + std::to_string(kMaxMessages) + " messages per request");
  }
  Json out = Json::array();
  for (size_t i = 0; i < messages->size(); ++i) out.push_back(normalize_message((*messages)[i], at("messages", i)));
  return out;
}

Json normalize_tools(const Json* tools) {
  if (!tools) return nullptr;
  if (!tools->is_array()) throw invalid_param("tools", std::string("expected an array, got ") + json_type_name(*tools));
  if (tools->size() > kMaxTools) throw invalid_param("tools", "at most " + std::to_string(kMaxTools) + " tools");
  if (tools->empty()) return nullptr;
  for (size_t i = 0; i < tools->size(); ++i) {
    const JsonFields tool = request_fields((*tools)[i], at("tools", i));
    if (tool.string("type", 64) != "function") throw invalid_param(tool.field_path("type"), "must be \"function\"");
    const std::optional<JsonFields> function = tool.object("function");
    if (!function) throw invalid_param(tool.field_path("function"), "is required");
    const std::optional<std::string> name = function->string("name", 64);
    if (!name || name->empty()) throw invalid_param(function->field_path("name"), "is required");
    for (char c : *name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
        throw invalid_param(function->field_path("name"), "may contain only a-z, A-Z, 0-9, underscores and dashes");
      }
    }
    function->string("description", 1 << 20);
    function->object("parameters");
  }
  return *tools;
}

ToolChoice read_tool_choice(const JsonFields& body, const Json& tools) {
  const Json* choice = body.find("tool_choice");
  const bool has_tools = !tools.is_null();
  if (!choice) return {has_tools ? ToolChoice::kAuto : ToolChoice::kNone};
  if (choice->is_string() && *choice == "none") return {ToolChoice::kNone};
  if (!has_tools) throw invalid_param("tool_choice", "is only allowed when tools are given");
  if (choice->is_string() && *choice == "auto") return {ToolChoice::kAuto};
  if (choice->is_string() && *choice == "required") return {ToolChoice::kRequired};
  if (choice->is_object()) {
    const JsonFields named = request_fields(*choice, "tool_choice");
    if (named.string("type", 64) != "function") throw invalid_param(named.field_path("type"), "must be \"function\"");
    const std::optional<JsonFields> function = named.object("function");
    const std::optional<std::string> name = function ? function->string("name", 64) : std::nullopt;
    if (!name) throw invalid_param("tool_choice.function.name", "is required");
    for (const Json& tool : tools)
      if (tool["function"]["name"] == *name) return {ToolChoice::kNamed, *name};
    throw invalid_param("tool_choice.function.name", "names no tool of this request: \"" + *name + "\"");
  }
  throw invalid_param("tool_choice", "must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", ...}");
}

}  // namespace tern::server
