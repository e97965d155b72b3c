#include "server/response_aggregator.h"

namespace tern::server {

void ResponseAggregator::add_logprobs(Choice& choice, const Json& logprobs) {
  if (logprobs.is_null()) return;
  if (choice.logprobs.is_null()) {
    choice.logprobs = logprobs;
    return;
  }
  // Chat: {"content": [...]}; completions: parallel arrays. Either way, append each array.
  for (const auto& [key, value] : logprobs.items()) {
    Json& into = choice.logprobs[key];
    for (const Json& item : value) into.push_back(item);
  }
}

void ResponseAggregator::add(const Json& chunk) {
  if (header_.is_null()) {
    header_ = {{"id", chunk["id"]}, {"created", chunk["created"]}, {"model", chunk["model"]}};
  }
  if (const auto usage = chunk.find("usage"); usage != chunk.end() && !usage->is_null()) usage_ = *usage;
  for (const Json& c : chunk["choices"]) {
    Choice& choice = choices_[c["index"].get<int64_t>()];
    if (api_ == RequestApi::kChat) {
      const Json& delta = c["delta"];
      if (const auto content = delta.find("content"); content != delta.end() && content->is_string()) {
        choice.text += content->get<std::string>();
      }
      if (const auto calls = delta.find("tool_calls"); calls != delta.end()) {
        // A call streams as one delta with its id and name, then pieces of its arguments.
        for (const Json& call : *calls) {
          Json* known = nullptr;
          for (Json& c : choice.tool_calls)
            if (c["index"] == call["index"]) known = &c;
          if (!known) {
            choice.tool_calls.push_back(call);
            continue;
          }
          std::string& arguments = (*known)["function"]["arguments"].get_ref<std::string&>();
          arguments += call["function"]["arguments"].get<std::string>();
        }
      }
    } else {
      choice.text += c["text"].get<std::string>();
      if (const auto scores = c.find("prompt_logprobs"); scores != c.end()) choice.prompt_logprobs = *scores;
    }
    add_logprobs(choice, c["logprobs"]);
    if (!c["finish_reason"].is_null()) choice.finish_reason = c["finish_reason"];
  }
}

Json ResponseAggregator::response() const {
  const bool chat = api_ == RequestApi::kChat;
  Json response = {{"id", header_["id"]},
                   {"object", chat ? "chat.completion" : "text_completion"},
                   {"created", header_["created"]},
                   {"model", header_["model"]}};
  Json choices = Json::array();
  for (const auto& [index, choice] : choices_) {
    Json c = {{"index", index}};
    if (chat) {
      Json message = {{"role", "assistant"}};
      const bool called = !choice.tool_calls.empty();
      message["content"] = called && choice.text.empty() ? Json(nullptr) : Json(choice.text);
      if (called) {
        Json calls = choice.tool_calls;
        for (Json& call : calls) call.erase("index");  // a streaming-only field
        message["tool_calls"] = std::move(calls);
      }
      c["message"] = std::move(message);
    } else {
      c["text"] = choice.text;
      if (!choice.prompt_logprobs.is_null()) c["prompt_logprobs"] = choice.prompt_logprobs;
    }
    c["logprobs"] = choice.logprobs;
    c["finish_reason"] = choice.finish_reason;
    choices.push_back(std::move(c));
  }
  response["choices"] = std::move(choices);
  response["usage"] = usage_;
  return response;
}

}  // namespace tern::server
