#include "loadgen/openai_stream.h"

#include <nlohmann/json.hpp>

namespace tern::loadgen {
namespace {

using Json = nlohmann::json;

std::string clipped(std::string_view text, size_t limit = 200) {
  std::string out(text.substr(0, limit));
  if (text.size() > limit) out += "...";
  return out;
}

const Json* member(const Json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

bool has_text(const Json* j) { return j != nullptr && j->is_string() && !j->get_ref<const std::string&>().empty(); }

}  // namespace

const char* endpoint_path(Endpoint endpoint) {
  return endpoint == Endpoint::kChat ? "/v1/chat/completions" : "/v1/completions";
}

std::string request_body(const RequestSettings& s, const BenchPrompt& prompt) {
  Json body = Json::object();
  if (!s.model.empty()) body["model"] = s.model;
  if (s.endpoint == Endpoint::kChat) {
    body["messages"] = Json::array({{{"role", "user"}, {"content", prompt.text}}});
  } else if (!prompt.token_ids.empty()) {
    body["prompt"] = prompt.token_ids;
  } else {
    body["prompt"] = prompt.text;
  }
  body["max_tokens"] = prompt.max_tokens;
  body["temperature"] = s.temperature;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  if (s.ignore_eos) body["ignore_eos"] = true;
  if (!s.response_format.empty()) body["response_format"] = Json::parse(s.response_format);
  return body.dump();
}

StreamReader::Step StreamReader::fail(const char* error_class, std::string message) {
  error_class_ = error_class;
  error_message_ = std::move(message);
  return Step::kError;
}

StreamReader::Step StreamReader::on_data(std::string_view data, double now_s) {
  if (data == "[DONE]") return Step::kDone;
  const Json chunk = Json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (chunk.is_discarded() || !chunk.is_object()) {
    return fail("malformed_sse", "a data event is not JSON: " + clipped(data));
  }
  if (member(chunk, "error") != nullptr) return fail("stream_error", clipped(error_message_of(data), 300));
  if (const Json* usage = member(chunk, "usage"); usage != nullptr && usage->is_object()) {
    if (const Json* n = member(*usage, "completion_tokens"); n && n->is_number_integer()) {
      usage_completion_ = n->get<int64_t>();
    }
    if (const Json* n = member(*usage, "prompt_tokens"); n && n->is_number_integer()) usage_prompt_ = n->get<int64_t>();
  }
  const Json* choices = member(chunk, "choices");
  if (choices == nullptr || !choices->is_array() || choices->empty()) return Step::kContinue;
  const Json& choice = (*choices)[0];
  bool token = false;
  if (endpoint_ == Endpoint::kChat) {
    if (const Json* delta = member(choice, "delta")) {
      token = has_text(member(*delta, "content")) || has_text(member(*delta, "reasoning_content")) ||
              member(*delta, "tool_calls") != nullptr;
    }
  } else {
    token = has_text(member(choice, "text"));
  }
  if (token) token_times_s_.push_back(now_s);
  if (member(choice, "finish_reason") != nullptr) saw_finish_ = true;
  return Step::kContinue;
}

std::string error_message_of(std::string_view body) {
  const Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (const Json* e = member(j, "error")) {
    if (const Json* m = member(*e, "message"); m && m->is_string()) return m->get<std::string>();
    if (e->is_string()) return e->get<std::string>();
  }
  if (const Json* m = member(j, "message"); m && m->is_string()) return m->get<std::string>();  // llama-server, FastAPI
  if (const Json* m = member(j, "detail"); m && m->is_string()) return m->get<std::string>();
  return clipped(body);
}

}  // namespace tern::loadgen
