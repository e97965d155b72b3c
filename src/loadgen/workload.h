// The prompts a benchmark sends: random prompts of given token lengths (optionally all
// starting with one shared prefix, to measure prefix caching), or conversations from a
// ShareGPT-format dataset. With a tokenizer, lengths are exact: prompts are token ids
// (sent as `prompt: [ids]` to /v1/completions) or text that encodes to exactly that many
// tokens. Without one, prompts are text of random common English words, about one token
// each, and the server's `usage` gives the true counts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace tern::loadgen {

struct BenchPrompt {
  std::vector<int32_t> token_ids;  // set when the prompt is sent as token ids
  std::string text;                // else the prompt text (the user message for chat)
  int32_t num_prompt_tokens = 0;   // exact with a tokenizer; 0 when unknown
  int32_t max_tokens = 0;          // output tokens to ask for
};

struct WorkloadSpec {
  int32_t num_prompts = 100;
  uint64_t seed = 0;
  // Random prompts: input_len unique tokens after shared_prefix_len shared ones; input and
  // output lengths drawn uniformly from [len * (1 - range_ratio), len * (1 + range_ratio)].
  int32_t input_len = 1024;
  int32_t output_len = 128;
  double range_ratio = 0.0;
  int32_t shared_prefix_len = 0;
  // ShareGPT dataset: a JSON array of {"conversations": [{"from", "value"}, ...]}. The
  // first turn is the prompt; the reply's token count is the output length unless
  // dataset_output_len > 0.
  std::string dataset_path;
  int32_t dataset_output_len = 0;
  bool token_ids = false;  // send token ids (needs a tokenizer)
};

// `tokenizer` may be null (then text prompts of approximate length; token_ids must be
// false, and a dataset needs dataset_output_len). Deterministic for a given seed.
// Throws tern::Error for an unreadable or malformed dataset or one with no usable entry.
std::vector<BenchPrompt> make_workload(const WorkloadSpec& spec, const Tokenizer* tokenizer);

}  // namespace tern::loadgen
