// Helpers of the engine tests: requests through an Engine over the fake model
// (fake_model.h), their deltas assembled into results, and the mixed workloads several
// tests compare under different engine settings.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "engine/grammar_vocabulary.h"
#include "fake_model.h"
#include "grammar/regex.h"

namespace tern::testing {

// Everything one request produced, assembled from its deltas.
struct Result {
  std::vector<std::vector<int32_t>> token_ids;  // per completion
  std::vector<std::string> text;
  std::vector<std::optional<FinishReason>> finish;
  std::vector<std::string> deltas;  // text of each delta of completion 0, in order
  std::string error;
  bool finished = false;
  Usage usage;
  RequestTimes times;

  bool operator==(const Result& o) const {
    return token_ids == o.token_ids && text == o.text && finish == o.finish && finished == o.finished;
  }
};

inline void absorb(Result& r, const RequestOutput& out) {
  const size_t i = static_cast<size_t>(out.index);
  if (r.token_ids.size() <= i) {
    r.token_ids.resize(i + 1);
    r.text.resize(i + 1);
    r.finish.resize(i + 1);
  }
  r.token_ids[i].insert(r.token_ids[i].end(), out.token_ids.begin(), out.token_ids.end());
  r.text[i] += out.text;
  if (i == 0) r.deltas.push_back(out.text);
  if (out.finish_reason) r.finish[i] = out.finish_reason;
  if (!out.error.empty()) r.error = out.error;
  if (out.finished) {
    r.finished = true;
    r.usage = out.usage;
    r.times = out.times;
  }
}

inline Result take(RequestHandle& handle) {
  Result r;
  while (auto out = handle.try_next()) absorb(r, *out);
  return r;
}

inline std::ostream& operator<<(std::ostream& os, const Result& r) {
  for (size_t i = 0; i < r.token_ids.size(); ++i) {
    os << "[" << i << ": " << ::testing::PrintToString(r.token_ids[i]) << ", finish "
       << (r.finish[i] ? finish_reason_name(*r.finish[i]) : "none") << ", text " << ::testing::PrintToString(r.text[i])
       << "] ";
  }
  return os;
}

struct TestEngine {
  FakeExecutor* executor;
  std::unique_ptr<Engine> engine;

  void run() {
    while (engine->step()) {
    }
  }
};

inline TestEngine make_engine(EngineSizes sizes, EngineConfig config = {},
                       FakeExecutor::NextToken next = testing::fake_next_token) {
  auto executor = std::make_unique<FakeExecutor>(sizes, std::move(next));
  FakeExecutor* raw = executor.get();
  return {raw, std::make_unique<Engine>(std::move(executor), std::make_shared<FakeTokenizer>(), std::move(config))};
}

inline SamplingParams greedy(int32_t max_tokens) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_tokens = max_tokens;
  return p;
}

inline SamplingParams seeded(int32_t max_tokens, uint64_t seed, int32_t n = 1) {
  SamplingParams p;
  p.max_tokens = max_tokens;
  p.seed = seed;
  p.n = n;
  return p;
}

inline std::vector<int32_t> random_tokens(std::mt19937& rng, int32_t n) {
  std::uniform_int_distribution<int32_t> dist(0, 255);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int32_t& id : ids) id = dist(rng);
  return ids;
}

struct Job {
  std::vector<int32_t> prompt;
  SamplingParams params;
  int32_t priority = 0;
};

// 64 requests: shared prefixes of 0-3 blocks, prompts of 1-150 tokens, greedy and seeded,
// some with n > 1 and with priorities.
inline std::vector<Job> mixed_jobs(int count, uint32_t seed) {
  std::mt19937 rng(seed);
  const std::vector<std::vector<int32_t>> prefixes = {
      {}, random_tokens(rng, 16), random_tokens(rng, 40), random_tokens(rng, 48)};
  std::vector<Job> jobs;
  for (int i = 0; i < count; ++i) {
    Job job;
    job.prompt = prefixes[rng() % prefixes.size()];
    const auto tail = random_tokens(rng, 1 + static_cast<int32_t>(rng() % 100));
    job.prompt.insert(job.prompt.end(), tail.begin(), tail.end());
    const int32_t max_tokens = 1 + static_cast<int32_t>(rng() % 60);
    job.params = rng() % 2 ? greedy(max_tokens) : seeded(max_tokens, rng(), rng() % 6 == 0 ? 3 : 1);
    job.priority = static_cast<int32_t>(rng() % 3);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

inline std::vector<Result> run_together(TestEngine& t, const std::vector<Job>& jobs) {
  std::vector<RequestHandle> handles;
  for (const Job& job : jobs) handles.push_back(t.engine->add_request(job.prompt, job.params, job.priority));
  t.run();
  std::vector<Result> results;
  for (RequestHandle& h : handles) results.push_back(take(h));
  return results;
}

inline Result run_alone(const EngineSizes& sizes, const Job& job) {
  TestEngine t = make_engine(sizes);
  RequestHandle h = t.engine->add_request(job.prompt, job.params, job.priority);
  t.run();
  return take(h);
}

inline EngineSizes pressure_sizes() {
  // 48 blocks of 16 (768 tokens) for 64 requests of up to 210 tokens; 64 tokens per step.
  return EngineSizes{.num_kv_blocks = 48, .max_num_batched_tokens = 64, .max_num_seqs = 32};
}

// A regex grammar over the fake tokenizer's vocabulary.
inline std::shared_ptr<const grammar::CompiledGrammar> fake_grammar(std::string_view regex) {
  static const auto vocab = grammar_vocabulary(FakeTokenizer());
  return grammar::CompiledGrammar::compile(grammar::regex_grammar(regex), vocab);
}

}  // namespace tern::testing
