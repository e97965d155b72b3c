// The engine on a real model: 64 concurrent greedy requests, under KV pressure (forcing
// preemption) and with chunked prefill and prefix caching, produce exactly the tokens each
// request produces alone; and n > 1 requests, whose completions share the prompt's blocks
// and copy them on write, produce exactly what n single requests with seeds seed + i do.
// This holds because the CPU backend is batch-invariant and the scheduler only changes
// *when* tokens are computed and *where* their KV lives, never *what* they are.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "engine/engine.h"
#include "model/load_model.h"
#include "runner/model_runner.h"

namespace tern {
namespace {

const std::string kModel = std::string(TERN_TEST_DATA) + "/models/tiny-qwen2";

struct Job {
  std::vector<int32_t> prompt;
  SamplingParams params;
};

SamplingParams greedy(int32_t max_tokens) {
  return SamplingParams{.temperature = 0.0f, .max_tokens = max_tokens, .ignore_eos = true};
}

SamplingParams sampled(int32_t max_tokens, uint64_t seed, int32_t n = 1) {
  return SamplingParams{
      .temperature = 0.9f, .top_p = 0.95f, .seed = seed, .max_tokens = max_tokens, .ignore_eos = true, .n = n};
}

std::vector<int32_t> random_prompt(std::mt19937& rng, int len) {
  std::vector<int32_t> p;
  for (int k = 0; k < len; ++k) p.push_back(int32_t(rng() % 1000));
  return p;
}

std::unique_ptr<Engine> make_engine(int32_t num_kv_blocks, int32_t token_budget) {
  auto backend = make_backend("cpu");
  auto model = load_model(kModel, *backend);
  ModelRunnerConfig rc{.sizes = {.block_size = 4,
                                 .num_kv_blocks = num_kv_blocks,
                                 .max_model_len = 256,
                                 .max_num_batched_tokens = token_budget,
                                 .max_num_seqs = 64}};
  auto runner = std::make_unique<ModelRunner>(std::move(model), rc, std::move(backend));
  return std::make_unique<Engine>(std::move(runner), Tokenizer::load(kModel), EngineConfig{});
}

// Runs the jobs through one engine, all added before the first step; returns each job's
// generated ids, per completion.
std::vector<std::vector<std::vector<int32_t>>> run(Engine& engine, const std::vector<Job>& jobs) {
  std::vector<RequestHandle> handles;
  for (const Job& j : jobs) handles.push_back(engine.add_request(j.prompt, j.params));
  while (engine.step()) {
  }
  std::vector<std::vector<std::vector<int32_t>>> outputs;
  for (size_t i = 0; i < jobs.size(); ++i) {
    std::vector<std::vector<int32_t>> ids(size_t(jobs[i].params.n));
    while (auto out = handles[i].try_next()) {
      auto& completion = ids.at(size_t(out->index));
      completion.insert(completion.end(), out->token_ids.begin(), out->token_ids.end());
      if (out->finish_reason) {
        EXPECT_EQ(out->finish_reason, FinishReason::kLength);
      }
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
    const std::vector<int32_t> tail = random_prompt(rng, 3 + int(rng() % 60));
    p.insert(p.end(), tail.begin(), tail.end());
    jobs.push_back({p, greedy(4 + int32_t(rng() % 20))});
  }

  std::vector<std::vector<int32_t>> alone;
  {
    auto engine = make_engine(/*num_kv_blocks=*/64, /*token_budget=*/256);
    for (const Job& j : jobs) alone.push_back(run(*engine, {j})[0][0]);
  }
  // 96 blocks of 4 tokens cannot hold 64 requests of up to ~100 tokens at once, and a
  // 32-token budget splits the long prompts into chunks.
  auto engine = make_engine(/*num_kv_blocks=*/96, /*token_budget=*/32);
  const auto together = run(*engine, jobs);
  for (size_t i = 0; i < jobs.size(); ++i) {
    ASSERT_EQ(together[i][0].size(), size_t(jobs[i].params.max_tokens)) << "request " << i;
    EXPECT_EQ(together[i][0], alone[i]) << "request " << i;
  }
  EngineStats stats = engine->stats();
  EXPECT_GT(stats.num_preemptions, 0) << "the pool was meant to force preemption";
  EXPECT_GT(stats.prefix_cache_hit_tokens, 0) << "the shared prefix was meant to hit the cache";
  EXPECT_EQ(stats.num_used_kv_blocks, 0) << "every block is released at the end";
}

TEST(EngineOnTinyModel, NCompletionsSharingTheirPromptEqualSingleRequestsWithSeedPlusIndex) {
  std::mt19937 rng(7);
  // Blocks of 4 tokens. Prompt lengths: 10 and 23 end mid-block (the completions share a
  // partial block that the leader and the forks all write into), 12 fills whole blocks
  // (the forks recompute the last token inside a full shared block), 13 puts the last
  // token alone in a new block (nothing to copy), 41 is cut by the 32-token budget so the
  // leader forks one token before the end of its prompt.
  std::vector<Job> jobs;
  uint64_t seed = 1000;
  for (int len : {10, 23, 12, 13, 41}) {
    const std::vector<int32_t> prompt = random_prompt(rng, len);
    jobs.push_back({prompt, sampled(10, seed += 10, /*n=*/3)});
    SamplingParams g = greedy(8);
    g.n = 2;
    jobs.push_back({prompt, g});
  }
  // 40 blocks for ~20 sequences of up to 51 tokens: preemption, with copies in flight.
  auto engine = make_engine(/*num_kv_blocks=*/40, /*token_budget=*/32);
  const auto together = run(*engine, jobs);
  EngineStats stats = engine->stats();
  EXPECT_GT(stats.num_kv_block_copies, 0) << "the completions were meant to copy shared blocks";
  EXPECT_GT(stats.num_preemptions, 0) << "the pool was meant to force preemption";
  EXPECT_EQ(stats.num_used_kv_blocks, 0) << "every block is released at the end";

  // The same completions as single requests, each alone, with nothing shared.
  auto reference = make_engine(/*num_kv_blocks=*/64, /*token_budget=*/256);
  for (size_t i = 0; i < jobs.size(); ++i) {
    const Job& job = jobs[i];
    ASSERT_EQ(together[i].size(), size_t(job.params.n));
    for (int32_t c = 0; c < job.params.n; ++c) {
      SamplingParams single = job.params;
      single.n = 1;
      if (single.seed) *single.seed += uint64_t(c);
      const auto alone = run(*reference, {{job.prompt, single}})[0][0];
      ASSERT_EQ(alone.size(), size_t(job.params.max_tokens));
      EXPECT_EQ(together[i][size_t(c)], alone)
          << "job " << i << " (prompt " << job.prompt.size() << "), completion " << c;
    }
  }
  EXPECT_NE(together[0][0], together[0][1]) << "seeded completions differ";
}

}  // namespace
}  // namespace tern
