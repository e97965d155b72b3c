// The engine on a real model: 64 concurrent greedy requests, under KV pressure (forcing
// preemption) and with chunked prefill and prefix caching, produce exactly the tokens each
// request produces alone. This holds because the CPU backend is batch-invariant and the
// scheduler only changes *when* tokens are computed, never *what* they are.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "engine/engine.h"
#include "engine/model_runner.h"
#include "model/load_model.h"

namespace tern {
namespace {

const std::string kModel = std::string(TERN_TEST_DATA) + "/models/tiny-qwen2";

struct Job {
  std::vector<int32_t> prompt;
  int32_t max_tokens;
};

std::unique_ptr<Engine> make_engine(int32_t num_kv_blocks, int32_t token_budget) {
  auto backend = make_backend("cpu");
  auto model = load_model(kModel, *backend);
  ModelRunnerConfig rc{.block_size = 4, .num_kv_blocks = num_kv_blocks, .max_num_batched_tokens = token_budget,
                       .max_num_seqs = 64, .max_model_len = 256};
  auto runner = std::make_unique<ModelRunner>(std::move(model), rc, std::move(backend));
  EngineConfig ec{.block_size = 4, .max_num_batched_tokens = token_budget, .max_num_seqs = 64};
  return std::make_unique<Engine>(std::move(runner), Tokenizer::load(kModel), ec);
}

// Runs the jobs through one engine, all added before the first step; returns each
// job's generated ids.
std::vector<std::vector<int32_t>> run(Engine& engine, const std::vector<Job>& jobs) {
  std::vector<RequestHandle> handles;
  for (const Job& j : jobs)
    handles.push_back(engine.add_request(
        j.prompt, SamplingParams{.temperature = 0.0f, .max_tokens = j.max_tokens, .ignore_eos = true}));
  while (engine.step()) {
  }
  std::vector<std::vector<int32_t>> outputs;
  for (auto& h : handles) {
    std::vector<int32_t> ids;
    while (auto out = h.try_next()) {
      ids.insert(ids.end(), out->token_ids.begin(), out->token_ids.end());
      if (out->finished) EXPECT_EQ(out->finish_reason, FinishReason::kLength);
    }
    outputs.push_back(ids);
  }
  return outputs;
}

TEST(EngineOnTinyModel, ConcurrentGreedyOutputsEqualEachRequestAlone) {
  std::mt19937 rng(42);
  // A shared 12-token system prefix on half the prompts exercises the prefix cache.
  std::vector<int32_t> prefix;
  for (int i = 0; i < 12; ++i) prefix.push_back(int32_t(rng() % 1000));
  std::vector<Job> jobs;
  for (int i = 0; i < 64; ++i) {
    std::vector<int32_t> p = i % 2 ? prefix : std::vector<int32_t>{};
    int len = 3 + int(rng() % 60);
    for (int k = 0; k < len; ++k) p.push_back(int32_t(rng() % 1000));
    jobs.push_back({p, 4 + int32_t(rng() % 20)});
  }

  std::vector<std::vector<int32_t>> alone;
  {
    auto engine = make_engine(/*num_kv_blocks=*/64, /*token_budget=*/256);
    for (const Job& j : jobs) alone.push_back(run(*engine, {j})[0]);
  }
  // 96 blocks of 4 tokens cannot hold 64 requests of up to ~100 tokens at once, and a
  // 32-token budget splits the long prompts into chunks.
  auto engine = make_engine(/*num_kv_blocks=*/96, /*token_budget=*/32);
  std::vector<std::vector<int32_t>> together = run(*engine, jobs);
  for (size_t i = 0; i < jobs.size(); ++i) {
    ASSERT_EQ(together[i].size(), size_t(jobs[i].max_tokens)) << "request " << i;
    EXPECT_EQ(together[i], alone[i]) << "request " << i;
  }
  EngineStats stats = engine->stats();
  EXPECT_GT(stats.num_preemptions, 0) << "the pool was meant to force preemption";
  EXPECT_GT(stats.prefix_cache_hit_tokens, 0) << "the shared prefix was meant to hit the cache";
  EXPECT_EQ(stats.num_used_kv_blocks, 0) << "every block is released at the end";
}

}  // namespace
}  // namespace tern
