// chat.completion.chunk: the role first, then content (and tool_calls when tools are on),
// then an empty delta with finish_reason ("tool_calls" when the choice called a tool).
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "server/chunk_builder.h"
#include "server/tool_call_parser.h"

namespace tern::server {

class ChatChunkBuilder : public ChunkBuilder {
 public:
  // With `tool_calls`, each choice's text goes through a ToolCallParser of that format
  // (`in_call_list`: see ToolCallParser); without `parallel` a choice returns its first
  // call only.
  ChatChunkBuilder(ChunkHeader header, std::shared_ptr<const Tokenizer> tokenizer, int32_t num_choices, bool logprobs,
                   std::optional<ToolCallFormat> tool_calls, bool in_call_list = false, bool parallel = true);
  void begin(std::vector<Json>& chunks) override;
  void add(int32_t choice, const RequestOutput& delta, std::vector<Json>& chunks) override;

 private:
  struct ChoiceState {
    std::optional<ToolCallParser> tool_calls;  // set when tools are on
  };

  Json delta_choice(int32_t choice, Json delta) const;

  std::shared_ptr<const Tokenizer> tokenizer_;
  bool logprobs_;
  bool parallel_;
  std::vector<ChoiceState> choices_;
};

}  // namespace tern::server
