// text_completion chunks: text (and logprobs) per delta, then an empty text with
// finish_reason.
#pragma once

#include <memory>
#include <vector>

#include "server/chunk_builder.h"

namespace tern::server {

class CompletionChunkBuilder : public ChunkBuilder {
 public:
  CompletionChunkBuilder(ChunkHeader header, std::shared_ptr<const Tokenizer> tokenizer, int32_t num_choices,
                         bool logprobs);
  void begin(std::vector<Json>& chunks) override;
  void add(int32_t choice, const RequestOutput& delta, std::vector<Json>& chunks) override;

 private:
  std::shared_ptr<const Tokenizer> tokenizer_;
  bool logprobs_;
  std::vector<int64_t> text_offsets_;  // per choice, for logprobs.text_offset
};

}  // namespace tern::server
