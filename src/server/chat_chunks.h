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
  ChatChunkBuilder(ChunkHeader header, std::shared_ptr<const Tokenizer> tokenizer, int32_t num_choices, bool logprobs,
                   bool parse_tool_calls);
  void begin(std::vector<Json>& chunks) override;
  void add(int32_t choice, const RequestOutput& delta, std::vector<Json>& chunks) override;

 private:
  struct ChoiceState {
    std::optional<ToolCallParser> tool_calls;  // set when tools are on
    int32_t num_tool_calls = 0;
  };

  Json delta_choice(int32_t choice, Json delta) const;

  std::shared_ptr<const Tokenizer> tokenizer_;
  bool logprobs_;
  std::vector<ChoiceState> choices_;
};

}  // namespace tern::server
