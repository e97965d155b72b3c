// Which logits of a sequence's row change before sampling, and by how much (the amounts of
// Backend::adjust_logits, applied by backend/logit_adjustment.h): logit_bias, the banned
// tokens (eos and stop ids before min_tokens), the repetition penalty over the prompt and
// the output, and the presence and frequency penalties over the output. The host sampler
// and the device op both start from this list, so they penalise the same way.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/model_executor.h"

namespace tern {

struct LogitAdjustment {
  int32_t token = 0;
  float bias = 0.0f;        // -inf for a banned token
  float repetition = 1.0f;  // divides a positive logit, multiplies a negative one
  float subtract = 0.0f;    // count * frequency_penalty + presence_penalty
};

// Whether `seq` changes any logit before sampling.
bool has_logit_adjustments(const StepSequence& seq);

// Reusable across sequences and steps: it allocates nothing once warm.
class LogitAdjuster {
 public:
  // Appends seq's adjustments to `out`, one per token, in no particular order; ids
  // outside [0, vocab) are skipped.
  void collect(const StepSequence& seq, int32_t vocab, std::vector<LogitAdjustment>& out);

 private:
  std::vector<int32_t> slot_;  // token -> its index in `out` while collecting, else -1
};

}  // namespace tern
