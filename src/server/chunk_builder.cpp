#include "server/chunk_builder.h"

#include "server/chat_chunks.h"
#include "server/completion_chunks.h"

namespace tern::server {

ChunkBuilder::ChunkBuilder(ChunkHeader header, const char* object) : header_(std::move(header)), object_(object) {}

Json ChunkBuilder::chunk(Json choice) const {
  Json c = {{"id", header_.id}, {"object", object_}, {"created", header_.created}, {"model", header_.model}};
  c["choices"] = Json::array({std::move(choice)});
  if (header_.usage_field) c["usage"] = nullptr;
  return c;
}

Json ChunkBuilder::usage_chunk(const UsageTotals& usage) const {
  Json c = {{"id", header_.id}, {"object", object_}, {"created", header_.created}, {"model", header_.model}};
  c["choices"] = Json::array();
  c["usage"] = {{"prompt_tokens", usage.prompt_tokens},
                {"completion_tokens", usage.completion_tokens},
                {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
                {"prompt_tokens_details", {{"cached_tokens", usage.cached_prompt_tokens}}}};
  return c;
}

std::unique_ptr<ChunkBuilder> make_chunk_builder(const ValidRequest& request, ChunkHeader header,
                                                 std::shared_ptr<const Tokenizer> tokenizer) {
  const int32_t num_choices = static_cast<int32_t>(request.prompts.size()) * request.params.n;
  if (request.api == RequestApi::kChat) {
    return std::make_unique<ChatChunkBuilder>(std::move(header), std::move(tokenizer), num_choices,
                                              request.params.logprobs >= 0, request.tool_calls,
                                              request.tool_call_list_open, request.parallel_tool_calls);
  }
  std::vector<CompletionPrompt> prompts;
  if (request.echo || request.return_prompt_logprobs) {
    for (const ValidPrompt& p : request.prompts) prompts.push_back({p.token_ids, p.echo_text});
  }
  return std::make_unique<CompletionChunkBuilder>(std::move(header), std::move(tokenizer), num_choices,
                                                  request.params.logprobs >= 0, request.params.n, std::move(prompts),
                                                  request.echo, request.return_prompt_logprobs);
}

}  // namespace tern::server
