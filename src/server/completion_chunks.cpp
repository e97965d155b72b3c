#include "server/completion_chunks.h"

#include "server/logprobs_json.h"

namespace tern::server {

CompletionChunkBuilder::CompletionChunkBuilder(ChunkHeader header, std::shared_ptr<const Tokenizer> tokenizer,
                                               int32_t num_choices, bool logprobs)
    : ChunkBuilder(std::move(header), "text_completion"),
      tokenizer_(std::move(tokenizer)),
      logprobs_(logprobs),
      text_offsets_(static_cast<size_t>(num_choices), 0) {}

void CompletionChunkBuilder::begin(std::vector<Json>&) {}

void CompletionChunkBuilder::add(int32_t choice, const RequestOutput& out, std::vector<Json>& chunks) {
  const bool has_logprobs = logprobs_ && !out.logprobs.empty();
  if (!out.text.empty() || has_logprobs) {
    Json c = {{"index", choice}, {"text", out.text}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
    if (has_logprobs) {
      c["logprobs"] = completion_logprobs(out.logprobs, *tokenizer_, text_offsets_[static_cast<size_t>(choice)]);
    }
    chunks.push_back(chunk(std::move(c)));
  }
  if (out.finish_reason) {
    chunks.push_back(chunk({{"index", choice},
                            {"text", ""},
                            {"logprobs", nullptr},
                            {"finish_reason", finish_reason_name(*out.finish_reason)}}));
  }
}

}  // namespace tern::server
