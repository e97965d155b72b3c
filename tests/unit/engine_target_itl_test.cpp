// --target-itl-ms through the engine: the engine times every step into the scheduler's
// cost model (the fake model takes 20 us per token), prompt chunks beside decodes are cut
// to a target no step can meet (so to the 16-token minimum) once the model is trained,
// and no token of any request changes.
#include <gtest/gtest.h>

#include <chrono>

#include "engine/scheduler.h"
#include "engine_support.h"

namespace tern {
namespace {

using namespace testing;

TEST(EngineTargetItl, CutChunksChangeNoOutput) {
  const std::vector<Job> jobs = mixed_jobs(48, 21);
  const EngineSizes sizes{.num_kv_blocks = 256, .max_num_batched_tokens = 256, .max_num_seqs = 16};
  TestEngine t = make_engine(sizes, EngineConfig{.target_itl_ms = 1e-6});
  t.executor->delay_per_token = std::chrono::microseconds(20);
  const std::vector<Result> results = run_together(t, jobs);
  int cut = 0;
  for (const auto& step : t.executor->steps) {
    bool decodes = false, minimum_chunk = false;
    for (const FakeExecutor::Record& r : step) {
      decodes = decodes || (r.num_new_tokens == 1 && r.sample);
      // A chunk that ends inside its prompt (no sample) with the minimum's size was cut.
      minimum_chunk = minimum_chunk || (!r.sample && r.num_new_tokens == Scheduler::kMinPrefillChunk);
    }
    cut += decodes && minimum_chunk;
  }
  EXPECT_GT(cut, 5) << "steps that carried decodes and a prompt chunk cut to the minimum";
  for (size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(results[i], run_alone(sizes, jobs[i])) << "request " << i;
}

TEST(EngineTargetItl, ANegativeTargetIsRefused) {
  EXPECT_THROW(make_engine(EngineSizes{}, EngineConfig{.target_itl_ms = -1}), Error);
}

}  // namespace
}  // namespace tern
