// Turns one row of logits into the next token: penalties, greedy or seeded sampling with
// temperature / top-k / top-p / min-p, and logprobs. The host reference; the CUDA
// backend's GPU sampler must give the same tokens for the same inputs.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/model_executor.h"

namespace tern {

// Reusable buffers so sampling allocates nothing in steady state.
struct SamplerScratch {
  std::vector<float> logits;
  std::vector<int32_t> order;
  std::vector<float> probs;
  std::vector<int32_t> counts;
};

// Uniform double in [0, 1) that depends only on (seed, index): the index-th draw of a
// request is the same alone, in any batch, and after preemption.
double uniform_draw(uint64_t seed, uint64_t index);

// Samples from `logits` ([vocab] F32) for `seq` (its params, prompt and output so far,
// seed and banned tokens). Order of processing:
//   1. NaN/Inf anywhere -> numerical_error, no token.
//   2. banned tokens -> -inf; repetition penalty over prompt + output (HF: divide
//      positive logits, multiply negative ones); presence and frequency penalties over
//      the output (OpenAI).
//   3. logprob / top_logprobs are the log-softmax of these penalised logits.
//   4. temperature 0: argmax (lowest id on ties). Otherwise temperature, then top-k,
//      top-p, min-p, then one draw uniform_draw(seed, output length).
SampledToken sample_token(std::span<const float> logits, const StepSequence& seq, SamplerScratch& scratch);

}  // namespace tern
