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
                                   bool logprobs, std::optional<ToolCallFormat> tool_calls, bool in_call_list,
                                   bool parallel)
    : ChunkBuilder(std::move(header), "chat.completion.chunk"),
      tokenizer_(std::move(tokenizer)),
      logprobs_(logprobs),
      parallel_(parallel),
      choices_(static_cast<size_t>(num_choices)) {
  if (tool_calls) {
    for (ChoiceState& c : choices_) c.tool_calls.emplace(*tool_calls, in_call_list);
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
      for (ToolCallPiece& piece : rest.calls) text.calls.push_back(std::move(piece));
    }
  }
  // parallel_tool_calls false: calls after the first are dropped (a forced call's grammar
  // allows only one; "auto" cannot stop the model from writing more).
  if (!parallel_) std::erase_if(text.calls, [](const ToolCallPiece& piece) { return piece.index > 0; });
  Json delta = Json::object();
  if (!text.content.empty()) delta["content"] = text.content;
  if (!text.calls.empty()) {
    // OpenAI's streaming shape: a call's first delta has its id, type and name; the
    // arguments' text follows in pieces.
    Json calls = Json::array();
    for (ToolCallPiece& piece : text.calls) {
      Json call = {{"index", piece.index}};
      Json function = Json::object();
      if (piece.name) {
        call["id"] = tool_call_id();
        call["type"] = "function";
        function["name"] = std::move(*piece.name);
      }
      function["arguments"] = std::move(piece.arguments);
      call["function"] = std::move(function);
      calls.push_back(std::move(call));
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
    const bool called =
        state.tool_calls && state.tool_calls->num_calls() > 0 && *out.finish_reason == FinishReason::kStop;
    c["finish_reason"] = called ? "tool_calls" : finish_reason_name(*out.finish_reason);
    chunks.push_back(chunk(std::move(c)));
  }
}

}  // namespace tern::server
