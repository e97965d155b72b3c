// Turns one row of logits into the next token: penalties, greedy or seeded sampling with
// temperature / top-k / top-p / min-p, and logprobs. The host reference; the CUDA
// backend's GPU sampler must give the same tokens for the same inputs.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/model_executor.h"
#include "runner/logit_adjustments.h"

namespace tern {

// Reusable buffers so sampling allocates nothing in steady state.
struct SamplerScratch {
  std::vector<float> logits;
  std::vector<int32_t> order;
  std::vector<float> sorted;  // logits of `order`
  std::vector<float> probs;
  std::vector<double> bucket_mass;  // the full-row draw's per-bucket probability
  LogitAdjuster adjuster;
  std::vector<LogitAdjustment> adjustments;
};

// Uniform double in [0, 1) that depends only on (seed, index): the index-th draw of a
// request is the same alone, in any batch, and after preemption.
double uniform_draw(uint64_t seed, uint64_t index);

// Samples from `logits` ([vocab] F32) for `seq` (its params, prompt and output so far,
// seed and banned tokens). Order of processing:
//   1. NaN/Inf anywhere -> numerical_error, no token. A sequence with a token mask
//      (mask_row >= 0) gets its row with -inf at the masked tokens: those are never
//      sampled nor listed in top_logprobs, and only a row with no other value is an error.
//      -inf is also accepted in the row of a sequence with banned tokens.
//   2. The adjustments of runner/logit_adjustments.h: logit_bias added; banned tokens ->
//      -inf; repetition penalty over prompt + output (HF: divide positive logits, multiply
//      negative ones); presence and frequency penalties over the output (OpenAI).
//   3. logprob / top_logprobs are the log-softmax of these penalised logits.
//   4. temperature 0: argmax (lowest id on ties). Otherwise temperature, then top-k,
//      top-p, min-p, then one draw uniform_draw(seed, output length).
SampledToken sample_token(std::span<const float> logits, const StepSequence& seq, SamplerScratch& scratch);
// The same for a row whose adjustments were already applied (Backend::adjust_logits):
// steps 1, 3 and 4.
SampledToken sample_adjusted_row(std::span<const float> logits, const StepSequence& seq, SamplerScratch& scratch);

// A prompt position's scores from its logits row ([vocab] F32): the log-softmax and
// rank (1: most likely) of `target`, and the `alternatives` most likely tokens.
TokenLogprob score_position(const float* logits, size_t vocab, int32_t target, int32_t alternatives,
                            SamplerScratch& scratch);

// The k most likely tokens of a row as a backend's top-k op returns them: sorted by
// logit, highest first (ties: lower id first), with log(sum(exp(logits))) over the whole
// vocabulary. It spares copying the full vocabulary to the host.
struct TopCandidates {
  std::span<const int32_t> ids;
  std::span<const float> logits;
  float log_sum_exp = 0.0f;
};

// Whether `seq` can be sampled exactly from the top `k` candidates of its adjusted row:
// logprobs alternatives within k, and greedy or top_k within k.
bool samples_from_top(const StepSequence& seq, int32_t k);
// Same result as sample_adjusted_row() on the full adjusted row, for a sequence
// samples_from_top() accepts: `top` is the top-k of that row. NaN/Inf in the candidates or
// the normaliser is a numerical error.
SampledToken sample_from_top(const TopCandidates& top, const StepSequence& seq);

}  // namespace tern
