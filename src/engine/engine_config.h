// Engine policy: queue bound, prefix caching, scheduling and KV layout modes, end ids.
// The app fills it from the command line; tests use designated initialisers. The sizes
// (block size, budgets, context length) are the executor's (engine/engine_sizes.h).
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
  int32_t max_waiting = 1024;                              // requests added but not yet started; beyond: "server busy"
  PrefixCaching prefix_caching = PrefixCaching::kEnabled;  // off in KvLayout::kContiguous
  SchedulerMode scheduler = SchedulerMode::kContinuous;
  KvLayout kv_layout = KvLayout::kPaged;
  // End-of-sequence ids: the tokenizer's eos and the model's (generation_config) together.
  std::vector<int32_t> eos_token_ids = {};
};

}  // namespace tern
