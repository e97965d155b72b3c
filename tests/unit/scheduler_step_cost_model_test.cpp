// The step cost model behind --target-itl-ms: it recovers a linear cost from observed
// steps, trusts itself only after enough steps of different sizes, follows a change of
// regime, and sizes the largest chunk that fits a target.
#include "engine/step_cost_model.h"

#include <gtest/gtest.h>

namespace tern {
namespace {

StepFeatures step(double tokens, double attention) { return StepFeatures{.tokens = tokens, .attention = attention}; }

TEST(StepCostModel, RecoversALinearCost) {
  StepCostModel m;
  for (int i = 0; i < 40; ++i) {
    const double tokens = 1 + (i * 37) % 300, attention = double((i * 11) % 7);
    m.observe(step(tokens, attention), 2.0 + 0.01 * tokens + 0.5 * attention);
  }
  ASSERT_TRUE(m.ready());
  const auto c = m.coefficients();
  EXPECT_NEAR(c[0], 2.0, 1e-6);
  EXPECT_NEAR(c[1], 0.01, 1e-8);
  EXPECT_NEAR(c[2], 0.5, 1e-6);
  EXPECT_NEAR(m.predict(step(100, 2)), 4.0, 1e-6);
}

TEST(StepCostModel, IsNotReadyBeforeEnoughStepsOfDifferentSizes) {
  StepCostModel m;
  for (int i = 0; i < 20; ++i) m.observe(step(8, 0.1), 5.0);  // a steady decode batch: no slope
  EXPECT_FALSE(m.ready());
  StepCostModel few;
  for (int i = 0; i < 5; ++i) few.observe(step(10 + 50 * i, 0), 1 + 0.1 * (10 + 50 * i));
  EXPECT_FALSE(few.ready());
}

TEST(StepCostModel, KeepsItsFitThroughARunOfEqualSteps) {
  StepCostModel m;
  for (int i = 0; i < 30; ++i) m.observe(step(1 + (i * 7) % 40, 0), 2.0 + 0.5 * (1 + (i * 7) % 40));
  ASSERT_TRUE(m.ready());
  // Hundreds of equal steps (cut chunks) whose time drifts a little: no new slope to learn.
  for (int i = 0; i < 500; ++i) m.observe(step(24, 0), 14.0 + 0.01 * (i % 3));
  ASSERT_TRUE(m.ready());
  EXPECT_NEAR(m.coefficients()[1], 0.5, 1e-3);
}

TEST(StepCostModel, FollowsTheRecentRegime) {
  StepCostModel m(0.9);
  for (int i = 0; i < 60; ++i) m.observe(step(1 + i % 50, 0), 1.0 + 0.1 * (1 + i % 50));
  for (int i = 0; i < 60; ++i) m.observe(step(1 + i % 50, 0), 3.0 + 0.2 * (1 + i % 50));
  ASSERT_TRUE(m.ready());
  EXPECT_NEAR(m.coefficients()[0], 3.0, 0.05);
  EXPECT_NEAR(m.coefficients()[1], 0.2, 0.005);
}

TEST(StepCostModel, MaxChunkIsTheLargestThatFits) {
  StepCostModel m;
  for (int i = 0; i < 30; ++i) {
    const double tokens = 1 + (i * 13) % 200, attention = double(i % 5);
    m.observe(step(tokens, attention), 1.0 + 0.5 * tokens + 1000.0 * attention);
  }
  ASSERT_TRUE(m.ready());
  const StepFeatures decodes = step(4, 0);  // 4 decodes: 3 ms
  // A chunk of n new tokens adds 0.5 n ms, and its n (n + 1) / 2 pairs among themselves
  // 0.0005 n (n + 1) ms: 14 tokens take 10.105 ms in all, 15 take 10.62.
  EXPECT_EQ(m.max_chunk(decodes, 0, 10.5, 1000), 14);
  EXPECT_EQ(m.max_chunk(decodes, 0, 10.5, 5), 5);  // the sequence has only 5 left
  // After 1000 cached tokens each new token also attends to them, 1 ms more: 4 take
  // 9.01 ms, 5 take 10.515.
  EXPECT_EQ(m.max_chunk(decodes, 1000, 10.5, 1000), 4);
  EXPECT_EQ(m.max_chunk(step(30, 0), 0, 10.5, 1000), 0);  // the decodes alone take 16 ms
}

}  // namespace
}  // namespace tern
