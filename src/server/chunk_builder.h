// Engine deltas -> OpenAI stream chunks ("chat.completion.chunk" / "text_completion").
// The stream is the one representation of an answer: SSE sends the chunks as they come,
// and a non-streaming response is the chunks merged (response_aggregator.h), so both
// always carry the same text.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/request_output.h"
#include "server/json_body.h"
#include "server/valid_request.h"
#include "tokenizer/tokenizer.h"

namespace tern::server {

struct ChunkHeader {
  std::string id;  // "chatcmpl-..." / "cmpl-..."
  int64_t created = 0;
  std::string model;
  bool usage_field = false;  // stream_options.include_usage: every chunk has "usage": null
};

struct UsageTotals {
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

class ChunkBuilder {
 public:
  virtual ~ChunkBuilder() = default;
  // Chunks before any output (chat: each choice's assistant role).
  virtual void begin(std::vector<Json>& chunks) = 0;
  // The chunks for one delta of choice `choice`. Never called with an error delta.
  virtual void add(int32_t choice, const RequestOutput& delta, std::vector<Json>& chunks) = 0;
  // The final usage chunk: no choices, only "usage".
  Json usage_chunk(const UsageTotals& usage) const;

 protected:
  ChunkBuilder(ChunkHeader header, const char* object);
  // {"id", "object", "created", "model", "choices": [choice]} (+ "usage": null).
  Json chunk(Json choice) const;

  ChunkHeader header_;
  const char* object_;
};

// `num_choices` = prompts x n. The tokenizer is kept for logprob token strings.
std::unique_ptr<ChunkBuilder> make_chunk_builder(const ValidRequest& request, ChunkHeader header,
                                                 std::shared_ptr<const Tokenizer> tokenizer);

}  // namespace tern::server
