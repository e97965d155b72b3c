#include "server/completion_chunks.h"

#include "server/logprobs_json.h"

namespace tern::server {

CompletionChunkBuilder::CompletionChunkBuilder(ChunkHeader header, std::shared_ptr<const Tokenizer> tokenizer,
                                               int32_t num_choices, bool logprobs, int32_t n,
                                               std::vector<CompletionPrompt> prompts, bool echo, bool prompt_logprobs)
    : ChunkBuilder(std::move(header), "text_completion"),
      tokenizer_(std::move(tokenizer)),
      logprobs_(logprobs),
      n_(n),
      prompts_(std::move(prompts)),
      echo_(echo),
      prompt_logprobs_(prompt_logprobs),
      text_offsets_(static_cast<size_t>(num_choices), 0),
      started_(static_cast<size_t>(num_choices), 0) {}

void CompletionChunkBuilder::begin(std::vector<Json>&) {}

void CompletionChunkBuilder::add(int32_t choice, const RequestOutput& out, std::vector<Json>& chunks) {
  const size_t c = static_cast<size_t>(choice);
  std::string text = out.text;
  Json logprobs = nullptr;
  Json prompt_scores = nullptr;
  if (!started_[c]) {
    started_[c] = 1;
    const CompletionPrompt* prompt = prompts_.empty() ? nullptr : &prompts_[c / size_t(n_)];
    if (prompt && echo_) {
      text = prompt->echo_text + text;
      if (logprobs_) logprobs = echo_logprobs(prompt->token_ids, out.prompt_logprobs, *tokenizer_, text_offsets_[c]);
    }
    if (prompt && prompt_logprobs_)
      prompt_scores = vllm_prompt_logprobs(prompt->token_ids, out.prompt_logprobs, *tokenizer_);
  }
  if (logprobs_ && !out.logprobs.empty()) {
    Json generated = completion_logprobs(out.logprobs, *tokenizer_, text_offsets_[c]);
    if (logprobs.is_null()) {
      logprobs = std::move(generated);
    } else {
      for (const auto& [key, values] : generated.items())
        for (const Json& v : values) logprobs[key].push_back(v);
    }
  }
  if (!text.empty() || !logprobs.is_null() || !prompt_scores.is_null()) {
    Json chunk_choice = {{"index", choice}, {"text", text}, {"logprobs", logprobs}, {"finish_reason", nullptr}};
    if (!prompt_scores.is_null()) chunk_choice["prompt_logprobs"] = std::move(prompt_scores);
    chunks.push_back(chunk(std::move(chunk_choice)));
  }
  if (out.finish_reason) {
    chunks.push_back(chunk({{"index", choice},
                            {"text", ""},
                            {"logprobs", nullptr},
                            {"finish_reason", finish_reason_name(*out.finish_reason)}}));
  }
}

}  // namespace tern::server
