#include "server/chat_chunks.h"

#include <random>

#include "server/logprobs_json.h"

namespace tern::server {
namespace {

std::string tool_call_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += kHex[rng() % 16];
  return id;
}

}  // namespace

ChatChunkBuilder::ChatChunkBuilder(ChunkHeader header, std::shared_ptr<const Tokenizer> tokenizer, int32_t num_choices,
                                   bool logprobs, bool parse_tool_calls)
    : ChunkBuilder(std::move(header), "chat.completion.chunk"),
      tokenizer_(std::move(tokenizer)),
      logprobs_(logprobs),
      choices_(static_cast<size_t>(num_choices)) {
  if (parse_tool_calls) {
    for (ChoiceState& c : choices_) c.tool_calls.emplace();
  }
}

Json ChatChunkBuilder::delta_choice(int32_t choice, Json delta) const {
  return {{"index", choice}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
}

void ChatChunkBuilder::begin(std::vector<Json>& chunks) {
  for (int32_t i = 0; i < static_cast<int32_t>(choices_.size()); ++i) {
    chunks.push_back(chunk(delta_choice(i, {{"role", "assistant"}, {"content", ""}})));
  }
}

void ChatChunkBuilder::add(int32_t choice, const RequestOutput& out, std::vector<Json>& chunks) {
  ChoiceState& state = choices_[static_cast<size_t>(choice)];
  ToolCallDelta text{.content = out.text, .calls = {}};
  if (state.tool_calls) {
    text = state.tool_calls->push(out.text);
    if (out.finish_reason) {
      ToolCallDelta rest = state.tool_calls->finish();
      text.content += rest.content;
      for (ParsedToolCall& call : rest.calls) text.calls.push_back(std::move(call));
    }
  }
  Json delta = Json::object();
  if (!text.content.empty()) delta["content"] = text.content;
  if (!text.calls.empty()) {
    Json calls = Json::array();
    for (ParsedToolCall& call : text.calls) {
      calls.push_back({{"index", state.num_tool_calls++},
                       {"id", tool_call_id()},
                       {"type", "function"},
                       {"function", {{"name", std::move(call.name)}, {"arguments", std::move(call.arguments)}}}});
    }
    delta["tool_calls"] = std::move(calls);
  }
  const bool has_logprobs = logprobs_ && !out.logprobs.empty();
  if (!delta.empty() || has_logprobs) {
    Json c = delta_choice(choice, std::move(delta));
    if (has_logprobs) c["logprobs"] = {{"content", chat_logprobs(out.logprobs, *tokenizer_)}};
    chunks.push_back(chunk(std::move(c)));
  }
  if (out.finish_reason) {
    Json c = delta_choice(choice, Json::object());
    const bool called = state.num_tool_calls > 0 && *out.finish_reason == FinishReason::kStop;
    c["finish_reason"] = called ? "tool_calls" : finish_reason_name(*out.finish_reason);
    chunks.push_back(chunk(std::move(c)));
  }
}

}  // namespace tern::server
