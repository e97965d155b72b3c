// Engine configuration. The app fills it from the command line; tests use designated
// initialisers. Sizes of 0 are taken from the ModelExecutor (Engine resolves them).
#pragma once

#include <cstdint>
#include <vector>

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

struct EngineConfig {
  int32_t block_size = 16;                // must equal the executor's block_size()
  int32_t num_kv_blocks = 0;              // 0: the executor's; else at most that (tests force pressure)
  int32_t max_model_len = 0;              // 0: the executor's; else at most that
  int32_t max_num_batched_tokens = 2048;  // tokens computed per step, all sequences together
  int32_t max_num_seqs = 256;             // sequences in the running batch (n > 1 counts n)
  int32_t max_waiting = 1024;             // requests added but not yet started; beyond: "server busy"
  PrefixCaching prefix_caching = PrefixCaching::kEnabled;  // off in KvLayout::kContiguous
  SchedulerMode scheduler = SchedulerMode::kContinuous;
  KvLayout kv_layout = KvLayout::kPaged;
  // Prompt positions scored per step for requests with prompt logprobs; 0: the executor's.
  int32_t max_prompt_logprob_tokens = 0;
  // End-of-sequence ids: the tokenizer's eos and the model's (generation_config) together.
  std::vector<int32_t> eos_token_ids = {};
};

}  // namespace tern
