// text_completion chunks: text (and logprobs) per delta, then an empty text with
// finish_reason. With echo, a choice's first chunk starts with its prompt's text (and,
// with logprobs, the prompt tokens' logprobs); with prompt_logprobs, it carries vLLM's
// prompt_logprobs field.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "server/chunk_builder.h"

namespace tern::server {

struct CompletionPrompt {
  std::vector<int32_t> token_ids;
  std::string echo_text;
};

class CompletionChunkBuilder : public ChunkBuilder {
 public:
  // `prompts`: one per prompt of the request (choices are prompt-major, `n` per prompt);
  // needed only for echo and prompt_logprobs.
  CompletionChunkBuilder(ChunkHeader header, std::shared_ptr<const Tokenizer> tokenizer, int32_t num_choices,
                         bool logprobs, int32_t n = 1, std::vector<CompletionPrompt> prompts = {}, bool echo = false,
                         bool prompt_logprobs = false);
  void begin(std::vector<Json>& chunks) override;
  void add(int32_t choice, const RequestOutput& delta, std::vector<Json>& chunks) override;

 private:
  std::shared_ptr<const Tokenizer> tokenizer_;
  bool logprobs_;
  int32_t n_;
  std::vector<CompletionPrompt> prompts_;
  bool echo_;
  bool prompt_logprobs_;
  std::vector<int64_t> text_offsets_;  // per choice, for logprobs.text_offset
  std::vector<uint8_t> started_;       // per choice: its first chunk went out
};

}  // namespace tern::server
