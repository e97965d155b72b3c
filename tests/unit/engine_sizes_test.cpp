// The sizes' defaults, written once (engine/engine_sizes.h) and pinned here: the app, the
// runner and the scheduler all start from these.
#include "engine/engine_sizes.h"

#include <gtest/gtest.h>

namespace tern {
namespace {

TEST(EngineSizes, DefaultsAreTheGpuServingSizes) {
  const EngineSizes s;
  EXPECT_EQ(s.block_size, 16);
  EXPECT_EQ(s.num_kv_blocks, 0) << "planned from memory";
  EXPECT_EQ(s.max_model_len, 0) << "the model's";
  EXPECT_EQ(s.max_num_batched_tokens, 2048);
  EXPECT_EQ(s.max_num_seqs, 256);
  EXPECT_EQ(s.max_prompt_logprob_tokens, 64);
}

TEST(EngineSizes, TheCpuTakesSmallerStepsAndKeepsTheRest) {
  const EngineSizes cpu = EngineSizes::cpu_defaults();
  EXPECT_EQ(cpu.max_num_batched_tokens, 512);
  EXPECT_EQ(cpu.max_num_seqs, 32);
  EXPECT_EQ(cpu.block_size, EngineSizes{}.block_size);
  EXPECT_EQ(cpu.max_prompt_logprob_tokens, EngineSizes{}.max_prompt_logprob_tokens);
}

}  // namespace
}  // namespace tern
