// A snapshot of the engine's gauges and counters for metrics and health. Counters count
// from the engine's construction; gauges are as of the end of the last step.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "engine/model_executor.h"
#include "engine/request.h"
#include "engine/request_rejected.h"

namespace tern {

// Structured output: how long making one sequence's token mask for one step took (the
// mask worker's fill_mask and end-of-output bits), in microseconds, by bucket.
struct MaskTimes {
  static constexpr std::array<double, 13> kUpperBoundsUs = {1,   2,   5,    10,   20,   50,   100,
                                                            200, 500, 1000, 2000, 5000, 10000};
  std::array<int64_t, kUpperBoundsUs.size() + 1> counts{};  // per bucket, not cumulative; the last is +Inf
  double sum_us = 0;
  int64_t count = 0;

  void add(double us) {
    size_t i = 0;
    while (i < kUpperBoundsUs.size() && us > kUpperBoundsUs[i]) ++i;
    ++counts[i];
    sum_us += us;
    ++count;
  }
};

// Speculative decoding: drafted and accepted tokens, and per verifying sequence-step how
// many of its drafts were accepted (index 0..kMaxDrafts).
struct SpeculationStats {
  static constexpr int32_t kMaxDrafts = 16;  // --num-speculative-tokens at most
  int64_t num_draft_tokens = 0;
  int64_t num_accepted_tokens = 0;
  std::array<int64_t, kMaxDrafts + 1> accepted_per_step{};

  void add(int32_t drafted, int32_t accepted) {
    num_draft_tokens += drafted;
    num_accepted_tokens += accepted;
    ++accepted_per_step[static_cast<size_t>(accepted)];
  }
};

struct EngineStats {
  // Gauges.
  int32_t num_requests = 0;  // added and not yet finished
  int32_t num_running_seqs = 0;
  int32_t num_waiting_seqs = 0;  // queued and preempted sequences
  int32_t num_kv_blocks = 0;
  int32_t num_used_kv_blocks = 0;  // referenced by a sequence; free cached blocks do not count
  double kv_usage = 0.0;           // num_used_kv_blocks / num_kv_blocks
  // Peaks since construction, as scheduled (before the step's finished sequences leave).
  int32_t max_running_seqs = 0;
  int32_t max_used_kv_blocks = 0;
  ExecutorMemory memory;  // fixed once the executor is set up
  // Counters.
  int64_t num_steps = 0;
  int64_t num_computed_tokens = 0;   // tokens through the model, prompt and recompute included
  int64_t num_generated_tokens = 0;  // sampled tokens delivered
  int64_t prefix_cache_queried_tokens = 0;
  int64_t prefix_cache_hit_tokens = 0;
  int64_t num_preemptions = 0;
  int64_t num_prefill_chunks_cut = 0;  // prompt chunks --target-itl-ms cut short
  int64_t num_kv_block_copies = 0;  // copy-on-write copies of shared blocks (n > 1)
  int64_t num_numerical_errors = 0;
  MaskTimes mask_times;                        // structured output, per sequence per step
  SpeculationStats speculation;
  std::array<int64_t, 4> num_finished_seqs{};  // indexed by FinishReason
  std::array<int64_t, 5> num_rejected{};       // indexed by RejectReason
  // False once a model step has failed; `error` says why. The engine then refuses requests.
  bool healthy = true;
  std::string error;
};

}  // namespace tern
