// KV memory planning: how many KV cache blocks each rank of a runner gets. The budget is
// given in the serving flags' terms, because when not even one full-length sequence fits,
// the error says which flag to change.
#pragma once

#include <cstdint>
#include <vector>

#include "runner/model_runner.h"

namespace tern {

struct KvMemoryBudget {
  int32_t num_kv_blocks = 0;            // > 0: exactly this many blocks (--num-kv-blocks)
  double kv_cache_memory_gib = 0.0;     // CPU: GiB for the KV cache of all ranks; 0: 2 GiB (--kv-cache-memory)
  double gpu_memory_utilization = 0.0;  // CUDA: fraction of each GPU tern may use (--gpu-memory-utilization)
  bool quiet = false;                   // no log lines about the plan
};

// KV blocks for every rank (each holds its KV heads of every block) of a runner sized by
// `sizes` (its block_size, max_model_len, max_num_batched_tokens and max_num_seqs):
// budget.num_kv_blocks when set; else on GPUs what gpu_memory_utilization leaves after
// what is in use (weights, other processes), the activations and a 1 GiB margin, the
// tightest GPU deciding; else on the CPU what kv_cache_memory_gib holds, never more than
// max_num_seqs full-length sequences need. Logs the plan unless quiet. Throws tern::Error,
// with the longest max_model_len that fits and the flags to change, when one
// max_model_len sequence does not fit.
// A draft model (speculative decoding, on rank 0) keeps its own KV for every block and
// its activations: `draft` adds them to rank 0's share.
int32_t plan_kv_blocks(const KvMemoryBudget& budget, const std::vector<ModelRank>& ranks, const EngineSizes& sizes,
                       const LlamaModel* draft = nullptr);

}  // namespace tern
