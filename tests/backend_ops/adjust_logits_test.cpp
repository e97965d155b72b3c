// adjust_logits: the CUDA op leaves exactly the CPU op's logits (the same F32 rounding of
// bias, repetition penalty and subtraction, no fused multiply-add), touches only its
// targets, turns banned tokens into -inf, and writes nothing past the logits.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "op_test_support.h"

namespace tern::test {
namespace {

struct AdjustCase {
  int rows, vocab, targets;
};

class AdjustLogits : public ::testing::TestWithParam<AdjustCase> {};

TEST_P(AdjustLogits, MatchesCpuExactly) {
  const AdjustCase c = GetParam();
  std::mt19937 rng = rng_for_test();
  const std::vector<float> logits = random_bf16(size_t(c.rows) * c.vocab, rng, 8.0f);
  // Distinct (row, token) targets with every kind of amount: bias, ban, penalties.
  std::vector<int32_t> targets;
  std::vector<float> amounts;
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (int i = 0; i < c.targets; ++i) {
    const int64_t cell = int64_t(i) * (int64_t(c.rows) * c.vocab / c.targets);  // spread, distinct
    targets.push_back(int32_t(cell / c.vocab));
    targets.push_back(int32_t(cell % c.vocab));
    const float bias = i % 7 == 0 ? -std::numeric_limits<float>::infinity() : (i % 3 == 0 ? unit(rng) * 4 - 2 : 0.0f);
    amounts.push_back(bias);
    amounts.push_back(i % 2 == 0 ? 1.0f + unit(rng) : 1.0f);
    amounts.push_back(i % 5 == 0 ? unit(rng) * 3 : 0.0f);
  }
  const int n = c.targets;
  Tensor ref = on_cpu(logits, {c.rows, c.vocab});
  cpu().adjust_logits(ref, i32_on(cpu(), targets, {n, 2}), on_cpu(amounts, {n, 3}));
  GuardedOutput out = guarded_cuda_output(DType::kF32, {c.rows, c.vocab});
  cuda().copy_from_host(out.tensor, logits.data());
  cuda().adjust_logits(out.tensor, i32_on(cuda(), targets, {n, 2}), on_cuda(amounts, {n, 3}, DType::kF32));
  const std::vector<float> got = download(cuda(), out.tensor), want = download(cpu(), ref);
  ASSERT_EQ(got.size(), want.size());
  size_t changed = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i] == want[i] || (std::isnan(got[i]) && std::isnan(want[i])))
        << "element " << i << ": " << got[i] << " vs " << want[i];
    changed += want[i] != logits[i];
  }
  if (n > 0) {
    EXPECT_GT(changed, 0u) << "the case changes nothing: it checks nothing";
  } else {
    EXPECT_EQ(changed, 0u);
  }
  expect_guard_intact(out, "adjust_logits");
}

INSTANTIATE_TEST_SUITE_P(Shapes, AdjustLogits,
                         ::testing::Values(AdjustCase{1, 100, 7},          // one row
                                           AdjustCase{5, 4000, 900},       // more targets than a block of threads
                                           AdjustCase{64, 152064, 65536},  // Qwen2.5-7B's logits, a full step
                                           AdjustCase{3, 50, 0}));         // nothing to adjust

}  // namespace
}  // namespace tern::test
