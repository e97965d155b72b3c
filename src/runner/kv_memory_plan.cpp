#include "runner/kv_memory_plan.h"

#include <algorithm>
#include <climits>
#include <string>

#include "base/error.h"
#include "base/log.h"

namespace tern {

int32_t plan_kv_blocks(const KvMemoryBudget& budget, const std::vector<ModelRank>& ranks, const EngineSizes& sizes,
                       const LlamaModel* draft) {
  const int64_t blocks_per_seq = (sizes.max_model_len + sizes.block_size - 1) / sizes.block_size;
  const size_t draft_block_bytes = draft ? draft->kv_block_bytes(sizes.block_size) : 0;
  size_t block_bytes = draft_block_bytes, weight_bytes = draft ? draft->weights_device_bytes() : 0;  // over all ranks
  for (const ModelRank& r : ranks) {
    block_bytes += r.model->kv_block_bytes(sizes.block_size);
    weight_bytes += r.model->weights_device_bytes();
  }
  const bool device = ranks[0].model->backend().memory_info().total_bytes > 0;
  int32_t blocks = 0;
  std::string budget_source;  // where the budget came from, for the error below
  if (budget.num_kv_blocks > 0) {
    blocks = budget.num_kv_blocks;
    budget_source = "--num-kv-blocks " + std::to_string(budget.num_kv_blocks);
  } else if (device) {
    // Device budget, per GPU: what --gpu-memory-utilization allows, less what is in use
    // now (weights, the CUDA context, other processes), less the activations and a margin
    // for library workspaces, communicator buffers and graphs. The tightest GPU decides.
    blocks = INT32_MAX / 2;
    for (size_t i = 0; i < ranks.size(); ++i) {
      const LlamaModel& m = *ranks[i].model;
      const MemoryInfo memory = m.backend().memory_info();
      const size_t rank_block_bytes = m.kv_block_bytes(sizes.block_size) + (i == 0 ? draft_block_bytes : 0);
      const double allowed = budget.gpu_memory_utilization * double(memory.total_bytes);
      const double in_use = double(memory.total_bytes - memory.free_bytes);
      double activations = double(m.workspace_bytes(sizes.max_num_batched_tokens, sizes.max_logits_rows()));
      if (i == 0 && draft) {
        const EngineSizes d = draft_model_sizes(sizes);
        activations += double(draft->workspace_bytes(d.max_num_batched_tokens, d.max_logits_rows()));
      }
      const double margin = 1.0 * double(1ull << 30);
      const double kv_bytes = std::max(0.0, allowed - in_use - activations - margin);
      const std::string gpu = ranks.size() > 1 ? " on GPU " + std::to_string(i) : "";
      const int32_t rank_blocks = int32_t(std::min<double>(kv_bytes / double(rank_block_bytes), double(INT32_MAX / 2)));
      if (rank_blocks < blocks) {
        blocks = rank_blocks;
        budget_source = detail::concat(
            "--gpu-memory-utilization ", budget.gpu_memory_utilization, " of ", double(memory.total_bytes) / 1e9, " GB",
            gpu, ", less ", in_use / 1e9, " GB in use (weights ", double(m.weights_device_bytes()) / 1e9,
            " GB, other processes), activations ", activations / 1e9, " GB and a ", margin / 1e9, " GB margin,");
      }
      if (!budget.quiet)
        log_info("GPU memory", gpu, ": ", double(memory.total_bytes) / 1e9, " GB total, ", in_use / 1e9,
                 " GB in use after loading weights, activations ", activations / 1e9, " GB, margin ", margin / 1e9,
                 " GB");
    }
  } else {
    // Never more than every running sequence at full length needs.
    const int64_t useful = blocks_per_seq * sizes.max_num_seqs;
    const double gib = budget.kv_cache_memory_gib > 0 ? budget.kv_cache_memory_gib : 2.0;
    blocks = int32_t(std::min<int64_t>(useful, int64_t(gib * double(1ull << 30) / double(block_bytes))));
    budget_source = detail::concat("--kv-cache-memory ", gib, " GiB");
  }
  if (blocks < blocks_per_seq) {
    // Actionable: what one full-length sequence needs, what there is, and the longest
    // max_model_len that fits.
    const int64_t fits = int64_t(blocks) * sizes.block_size;
    throw error("not enough memory for the KV cache of one ", sizes.max_model_len, "-token sequence: it needs ",
                blocks_per_seq, " blocks of ", sizes.block_size,
                " tokens = ", double(block_bytes) * blocks_per_seq / 1e6, " MB, but ", budget_source,
                " leaves room for ", blocks, " blocks (", double(block_bytes) * blocks / 1e6, " MB). ",
                fits > 0 ? detail::concat("Use --max-model-len ", fits, " or less, or free memory: ")
                         : std::string("Free memory: "),
                !device            ? "raise --kv-cache-memory or --num-kv-blocks"
                : ranks.size() > 1 ? "raise --gpu-memory-utilization or stop other GPU processes"
                                   : "raise --gpu-memory-utilization, stop other GPU processes, or split the model "
                                     "with --tensor-parallel-size");
  }
  if (!budget.quiet)
    log_info("memory plan: weights ", double(weight_bytes) / 1e9, " GB; KV cache (",
             dtype_name(ranks[0].model->kv_cache_dtype()), ") ", blocks, " blocks x ",
             sizes.block_size, " tokens = ", int64_t(blocks) * sizes.block_size, " tokens, ",
             double(block_bytes) * blocks / 1e9, " GB; max_model_len ", sizes.max_model_len,
             ranks.size() > 1 ? " (totals over " + std::to_string(ranks.size()) + " ranks)" : std::string());
  return blocks;
}

}  // namespace tern
