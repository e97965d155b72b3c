// What a request asks of sampling and stopping. Validated at the edge (CLI / server)
// before it reaches the engine; the engine trusts these values.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tern {

namespace grammar {
class CompiledGrammar;
}

struct SamplingParams {
  float temperature = 1.0f;         // 0 means greedy (argmax)
  float top_p = 1.0f;               // (0, 1]
  int32_t top_k = 0;                // 0 or -1: off
  float min_p = 0.0f;               // [0, 1]
  float repetition_penalty = 1.0f;  // > 0; 1 = off (HF/vLLM semantics over prompt + output)
  float presence_penalty = 0.0f;    // [-2, 2] over output tokens (OpenAI semantics)
  float frequency_penalty = 0.0f;   // [-2, 2] over output tokens
  // Draws are a pure function of (seed, index of the output token), so a request gives
  // the same tokens alone, in any batch, and after preemption. Unset: the engine picks one.
  std::optional<uint64_t> seed;

  int32_t max_tokens = 16;  // >= 1; 0 only to score the prompt (prompt_logprobs >= 0, n = 1)
  int32_t min_tokens = 0;   // eos and stop ids are suppressed before this many tokens
  bool ignore_eos = false;
  std::vector<int32_t> stop_token_ids;      // end the request; the stop token is not emitted as text
  std::vector<std::string> stop;            // stop strings; the matched text is not emitted...
  bool include_stop_str_in_output = false;  // ...unless this is set (what follows it never is)
  // Added to the logits of these ids before anything else (OpenAI's logit_bias); such a
  // request samples from full logit rows.
  std::vector<std::pair<int32_t, float>> logit_bias;

  int32_t logprobs = -1;  // -1: none; N >= 0: the chosen token's logprob and N alternatives
  // -1: none; N >= 0: each prompt token's logprob (all but the first) and N alternatives.
  // Such a request is computed in full (no prefix-cache hits).
  int32_t prompt_logprobs = -1;
  bool skip_special_tokens = true;  // when turning output ids into text
  int32_t n = 1;                    // independent completions sharing the prompt's KV blocks
  // Structured output: every completion's text must match this grammar (src/grammar/);
  // masked tokens are never sampled and a completion whose grammar is complete with no
  // continuation ends with "stop". Null: unconstrained.
  std::shared_ptr<const grammar::CompiledGrammar> grammar;

  bool greedy() const { return temperature == 0.0f; }
};

}  // namespace tern
