// Engine policy: queue bound, prefix caching, scheduling and KV layout modes, end ids.
// The app fills it from the command line; tests use designated initialisers. The sizes
// (block size, budgets, context length) are the executor's (engine/engine_sizes.h).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/ngram_proposer.h"
#include "kv/kv_cache_manager.h"

namespace tern {

enum class SchedulerMode {
  kContinuous,  // requests join and leave the running batch at every step
  kStatic,      // baseline: a batch starts together, runs until its last request ends, then the next
};

enum class KvLayout {
  kPaged,       // blocks allocated as tokens arrive; full blocks shared (prefix cache, n > 1)
  kContiguous,  // baseline: prompt + max_tokens reserved at admission; nothing shared
};

enum class SpeculativeMethod {
  kNone,
  kNgram,       // prompt lookup (engine/ngram_proposer.h)
  kDraftModel,  // a small model run by the executor (runner/draft_model.h)
};

// Speculative decoding (docs/engine.md, "Speculative decoding"): a decoding sequence
// proposes up to num_tokens draft tokens, and one forward verifies them all; the output is
// the one non-speculative decoding gives, token for token (greedy and seeded sampling).
// With kDraftModel the scheduler reserves the drafts' positions and the executor fills
// them in.
struct SpeculativeConfig {
  SpeculativeMethod method = SpeculativeMethod::kNone;
  int32_t num_tokens = 4;  // most drafts per sequence per step (K)
  // No drafts in a step where more sequences than this decode: at large batches the
  // forward is no longer bound by reading the weights, and verifying drafts costs more
  // than their accepted tokens save (vLLM's disable_by_batch_size).
  int32_t disable_by_batch_size = 16;
  // Draft num_tokens whenever the limits allow, whatever the sequence's acceptance (for
  // measuring a fixed K); otherwise fewer after rejections (Scheduler::drafts_for).
  bool fixed_num_tokens = false;
  NgramConfig ngram;
};

struct EngineConfig {
  int32_t max_waiting = 1024;                              // requests added but not yet started; beyond: "server busy"
  PrefixCaching prefix_caching = PrefixCaching::kEnabled;  // off in KvLayout::kContiguous
  SchedulerMode scheduler = SchedulerMode::kContinuous;
  KvLayout kv_layout = KvLayout::kPaged;
  // End-of-sequence ids: the tokenizer's eos and the model's (generation_config) together.
  std::vector<int32_t> eos_token_ids = {};
  SpeculativeConfig speculative = {};
  // Stall-free batching: > 0 sizes each step's prefill chunks so that a step carrying
  // running decodes is predicted to take at most this many milliseconds (their
  // inter-token latency), from a cost model fitted to the measured steps
  // (engine/step_cost_model.h); 0 fills every step up to max_num_batched_tokens.
  double target_itl_ms = 0;
};

}  // namespace tern
