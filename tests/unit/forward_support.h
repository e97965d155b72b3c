// Running a model outside the engine in tests: every position of one prompt through
// LlamaModel::forward (one model, or the ranks of a tensor-parallel group at once), and
// greedy continuations through a ModelRunner step by step.
#pragma once

#include <algorithm>
#include <numeric>
#include <random>
#include <span>
#include <vector>

#include "base/rank_threads.h"
#include "model/llama_model.h"
#include "model/sequence_logits.h"
#include "runner/model_runner.h"

namespace tern::testing {

// A block table of `n` distinct blocks drawn from a pool of `pool` in shuffled order, so
// attention must follow the table rather than assume contiguous blocks.
inline std::vector<int32_t> scattered_blocks(int n, int pool, uint32_t seed) {
  std::vector<int32_t> ids(static_cast<size_t>(pool));
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(seed));
  ids.resize(size_t(n));
  return ids;
}

// Logits [len, vocab] at every position of `ids`, computed in one step on every rank of
// `ranks` at once (ranks[r] on thread r of `threads`); rank 0's copy, which after the
// gather is the whole vocabulary. CPU backends.
inline std::vector<float> prompt_logits(const std::vector<const LlamaModel*>& ranks, RankThreads& threads,
                                        const std::vector<int32_t>& ids) {
  const int32_t n = int32_t(ids.size());
  const int block_size = 16;
  const int32_t blocks = (n + block_size - 1) / block_size;
  std::vector<int32_t> positions(static_cast<size_t>(n)), table(static_cast<size_t>(blocks));
  std::iota(positions.begin(), positions.end(), 0);
  std::iota(table.begin(), table.end(), 0);
  int32_t query_start[2] = {0, n}, seq_len = n;
  auto view = [](const int32_t* data, int64_t count) {
    return make_view(const_cast<int32_t*>(data), DType::kI32, Device::kCpu, {count});
  };
  ForwardInputs in;
  in.token_ids = view(ids.data(), n);
  in.positions = view(positions.data(), n);
  in.slot_mapping = view(positions.data(), n);
  in.logits_indices = view(positions.data(), n);
  in.attention =
      AttentionMetadata{.num_seqs = 1,
                        .max_query_len = n,
                        .max_seq_len = n,
                        .query_start = view(query_start, 2),
                        .seq_lens = view(&seq_len, 1),
                        .block_tables = make_view(table.data(), DType::kI32, Device::kCpu, {1, int64_t(blocks)})};
  std::vector<float> out;
  threads.run([&](int rank) {
    const LlamaModel& model = *ranks[size_t(rank)];
    auto cache = model.make_kv_cache(blocks, block_size);
    Workspace ws = model.make_workspace(n, n);
    const Tensor logits = model.forward(in, cache, ws);
    if (rank == 0) out.assign(logits.ptr<const float>(), logits.ptr<const float>() + logits.numel());
  });
  return out;
}

inline std::vector<float> prompt_logits(const LlamaModel& model, const std::vector<int32_t>& ids) {
  return SequenceLogits(model, int64_t(ids.size())).all(ids);
}

// Greedy continuation of `steps` tokens through the runner, the prompt computed in
// chunks of `chunk` tokens, in blocks scattered through the pool.
inline std::vector<int32_t> greedy(ModelRunner& runner, const std::vector<int32_t>& prompt, int steps, int chunk,
                                   uint32_t seed) {
  static const SamplingParams kGreedy{.temperature = 0.0f};
  const int bs = runner.sizes().block_size;
  std::vector<int32_t> table =
      scattered_blocks((int(prompt.size()) + steps + bs - 1) / bs, runner.sizes().num_kv_blocks, seed);
  std::vector<int32_t> out;
  int32_t computed = 0;
  std::vector<int32_t> all = prompt;
  while (int(out.size()) < steps) {
    int32_t remaining = int32_t(all.size()) - computed;
    int32_t n = std::min(remaining, chunk);
    StepSequence seq{.seq_id = 1,
                     .num_computed_tokens = computed,
                     .new_token_ids = std::span<const int32_t>(all.data() + computed, size_t(n)),
                     .block_table = table,
                     .sample = computed + n == int32_t(all.size()),
                     .params = &kGreedy,
                     .prompt_token_ids = prompt,
                     .output_token_ids = out};
    auto sampled = runner.execute(StepBatch{{seq}});
    computed += n;
    if (seq.sample) {
      EXPECT_EQ(sampled.size(), 1u);
      out.push_back(sampled[0].token_id);
      all.push_back(sampled[0].token_id);
    }
  }
  return out;
}

}  // namespace tern::testing
