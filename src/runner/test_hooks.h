// Fault injection for the reliability battery (docs/reliability.md),
// compiled in only with -DTERN_TEST_HOOKS=ON (hooks/test_hooks.cpp). In every other build
// the hooks below are inline no-ops, so release binaries carry none of this.
//
// The hooks read the environment variable TERN_TEST_HOOKS once, a comma-separated list:
//   step_delay_ms=D  every model step first sleeps D ms (a slow decode on a tiny model)
//   nan=S@K          a sequence sampled with seed S gets NaN logits once it has K output
//                    tokens (a request's seed is its first sequence's; n > 1 adds the index)
//   fail=S@K         the model step holding that sequence at K output tokens throws, as a
//                    backend (CUDA) error would
//   fail_step=N      the N-th model step since start throws
//   spec_accept=P    speculative decoding: each draft is taken as accepted with probability
//                    P (in order, up to the first refused), whatever the model sampled, and
//                    every sampled token continues the text's repetition (a draft, else what
//                    followed the last token's latest earlier occurrence): with prompts that
//                    repeat (bench engine --prompt-period), a verify step then costs and
//                    yields what it would with a drafter of acceptance P. For measuring
//                    speed only (bench/results/*-speculative.json); outputs are not the
//                    model's.
// A hooks build logs the active hooks once, as a warning, at the first model step.
#pragma once

#include <span>
#include <vector>

#include "engine/model_executor.h"

namespace tern::test_hooks {

#ifdef TERN_TEST_HOOKS
// Called at the start of every model step: sleeps, or throws tern::Error to fail the step.
void before_step(const StepBatch& batch);
// Whether the logits sampled for `seq` this step are to be replaced by NaN.
bool poison_logits(const StepSequence& seq);
// spec_accept: appends to `out` the tokens for a sampled sequence's rows (`rows`: one per
// row, as sampled): its accepted drafts and the token after them; false when the hook is
// off.
bool force_acceptance(const StepSequence& seq, std::span<SampledToken> rows, std::vector<SampledToken>& out);
#else
inline void before_step(const StepBatch&) {}
inline bool poison_logits(const StepSequence&) { return false; }
inline bool force_acceptance(const StepSequence&, std::span<SampledToken>, std::vector<SampledToken>&) {
  return false;
}
#endif

}  // namespace tern::test_hooks
