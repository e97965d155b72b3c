// RoPE frequencies against hand-computed values for every supported type. The reference
// here is float64 math from the formulas in transformers' modeling_rope_utils.py; the
// float32 pipeline must agree within a few ulp, and exactly where the formula leaves a
// frequency untouched or scales it by a power of two.
#include "model/rope.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

namespace tern {
namespace {

constexpr double kPi = std::numbers::pi;

ModelConfig config(int64_t head_dim, double theta) {
  ModelConfig c;
  c.head_dim = head_dim;
  c.rope_theta = theta;
  c.max_position_embeddings = 32768;
  return c;
}

// base^(-2i/dim) in float64.
double plain(double base, int64_t dim, int64_t i) { return std::pow(base, -double(2 * i) / double(dim)); }

void expect_near_rel(float actual, double expected, double rel = 4e-7) {
  EXPECT_NEAR(actual, expected, std::abs(expected) * rel) << "expected " << expected;
}

TEST(Rope, DefaultMatchesTheClosedForm) {
  const RopeInit r = compute_rope(config(128, 1e6));
  ASSERT_EQ(r.inv_freq.size(), 64u);
  EXPECT_EQ(r.attention_scaling, 1.0f);
  for (int64_t i = 0; i < 64; ++i) {
    SCOPED_TRACE(i);
    expect_near_rel(r.inv_freq[i], plain(1e6, 128, i));
  }
  // Exactly representable points: 1e6^0 and 1e6^-0.5.
  EXPECT_EQ(r.inv_freq[0], 1.0f);
  EXPECT_EQ(r.inv_freq[32], 0.001f);
  EXPECT_EQ(compute_rope(config(128, 10000.0)).inv_freq[32], 0.01f);
  expect_near_rel(compute_rope(config(128, 10000.0)).inv_freq[1], 0.8659643233600653);  // 10^-0.0625
}

TEST(Rope, LinearDividesEveryFrequencyByTheFactor) {
  const RopeInit plain_rope = compute_rope(config(64, 10000.0));
  for (double factor : {2.0, 3.0}) {
    ModelConfig c = config(64, 10000.0);
    c.rope_scaling.type = RopeScalingType::kLinear;
    c.rope_scaling.factor = factor;
    const RopeInit r = compute_rope(c);
    EXPECT_EQ(r.attention_scaling, 1.0f);
    for (size_t i = 0; i < r.inv_freq.size(); ++i) EXPECT_EQ(r.inv_freq[i], plain_rope.inv_freq[i] / float(factor));
  }
}

ModelConfig llama31() {
  ModelConfig c = config(128, 500000.0);
  c.max_position_embeddings = 131072;
  c.rope_scaling.type = RopeScalingType::kLlama3;
  c.rope_scaling.factor = 8.0;
  c.rope_scaling.low_freq_factor = 1.0;
  c.rope_scaling.high_freq_factor = 4.0;
  c.rope_scaling.original_max_position_embeddings = 8192;
  return c;
}

TEST(Rope, Llama3KeepsHighFrequenciesScalesLowOnesAndBlendsBetween) {
  const RopeInit unscaled = compute_rope(config(128, 500000.0));
  const RopeInit r = compute_rope(llama31());
  ASSERT_EQ(r.inv_freq.size(), 64u);
  EXPECT_EQ(r.attention_scaling, 1.0f);
  // With theta 5e5 and head_dim 128 the wavelength 2*pi/inv_freq passes 8192/4 = 2048
  // after pair 28 and 8192/1 = 8192 at pair 35.
  for (int i = 0; i <= 28; ++i) EXPECT_EQ(r.inv_freq[i], unscaled.inv_freq[i]) << i;
  for (int i = 35; i < 64; ++i) EXPECT_EQ(r.inv_freq[i], unscaled.inv_freq[i] / 8.0f) << i;
  for (int i = 29; i <= 34; ++i) {
    SCOPED_TRACE(i);
    const double inv = plain(500000.0, 128, i);
    const double smooth = (8192.0 / (2 * kPi / inv) - 1.0) / (4.0 - 1.0);
    ASSERT_GT(smooth, 0.0);
    ASSERT_LT(smooth, 1.0);
    expect_near_rel(r.inv_freq[i], (1 - smooth) * inv / 8.0 + smooth * inv, 1e-6);
  }
}

ModelConfig qwen_yarn() {
  ModelConfig c = config(128, 1e6);
  c.rope_scaling.type = RopeScalingType::kYarn;
  c.rope_scaling.factor = 4.0;
  c.rope_scaling.original_max_position_embeddings = 32768;
  return c;
}

TEST(Rope, YarnRampsFromExtrapolationToInterpolation) {
  const RopeInit unscaled = compute_rope(config(128, 1e6));
  const RopeInit r = compute_rope(qwen_yarn());
  ASSERT_EQ(r.inv_freq.size(), 64u);
  // attention factor 0.1 * ln(4) + 1.
  EXPECT_EQ(r.attention_scaling, float(0.1 * std::log(4.0) + 1.0));
  // Correction range: floor(23.596) = 23 to ceil(39.651) = 40.
  for (int i = 0; i <= 23; ++i) EXPECT_EQ(r.inv_freq[i], unscaled.inv_freq[i]) << i;
  for (int i = 40; i < 64; ++i) EXPECT_EQ(r.inv_freq[i], unscaled.inv_freq[i] / 4.0f) << i;
  for (int i = 24; i < 40; ++i) {
    SCOPED_TRACE(i);
    const double ramp = (i - 23) / 17.0;  // weight of the interpolated frequency
    expect_near_rel(r.inv_freq[i], plain(1e6, 128, i) * (ramp / 4.0 + (1 - ramp)), 1e-6);
  }
}

TEST(Rope, YarnWithoutTruncationUsesTheExactCorrectionRange) {
  ModelConfig c = qwen_yarn();
  c.rope_scaling.truncate = false;
  const RopeInit r = compute_rope(c);
  const double low = 128 * std::log(32768 / (32 * 2 * kPi)) / (2 * std::log(1e6));  // 23.596
  const double high = 128 * std::log(32768 / (1 * 2 * kPi)) / (2 * std::log(1e6));  // 39.651
  for (int i : {23, 24, 30, 39, 40}) {
    SCOPED_TRACE(i);
    const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
    expect_near_rel(r.inv_freq[i], plain(1e6, 128, i) * (ramp / 4.0 + (1 - ramp)), 1e-6);
  }
  EXPECT_NE(r.inv_freq[24], compute_rope(qwen_yarn()).inv_freq[24]);
}

TEST(Rope, YarnGuardsAnEmptyCorrectionRange) {
  // beta_slow just above original/(2*pi) puts the upper bound at ceil(-0.005) = 0, equal
  // to the lower one; transformers then widens the range to 0.001.
  ModelConfig c = qwen_yarn();
  c.rope_scaling.original_max_position_embeddings = 64;
  c.rope_scaling.beta_slow = 64 / (2 * kPi) * 1.001;
  const RopeInit unscaled = compute_rope(config(128, 1e6));
  const RopeInit r = compute_rope(c);
  EXPECT_EQ(r.inv_freq[0], unscaled.inv_freq[0]);
  for (int i = 1; i < 64; ++i) EXPECT_EQ(r.inv_freq[i], unscaled.inv_freq[i] / 4.0f) << i;
}

TEST(Rope, YarnAttentionFactor) {
  ModelConfig c = qwen_yarn();
  c.rope_scaling.factor = 40.0;
  auto mscale = [](double scale, double m) { return 0.1 * m * std::log(scale) + 1.0; };

  EXPECT_EQ(compute_rope(c).attention_scaling, float(mscale(40, 1)));
  c.rope_scaling.mscale = 0.707;  // without mscale_all_dim it is ignored
  EXPECT_EQ(compute_rope(c).attention_scaling, float(mscale(40, 1)));
  c.rope_scaling.mscale_all_dim = 1.0;
  EXPECT_EQ(compute_rope(c).attention_scaling, float(mscale(40, 0.707) / mscale(40, 1.0)));
  c.rope_scaling.mscale_all_dim = 0.0;  // zero counts as absent, as Python's `and` does
  EXPECT_EQ(compute_rope(c).attention_scaling, float(mscale(40, 1)));
  c.rope_scaling.attention_factor = 1.25;
  EXPECT_EQ(compute_rope(c).attention_scaling, 1.25f);

  ModelConfig no_extension = qwen_yarn();
  no_extension.rope_scaling.factor = 1.0;
  EXPECT_EQ(compute_rope(no_extension).attention_scaling, 1.0f);
}

TEST(Rope, FixtureModels) {
  const std::string models = std::string(TERN_TEST_DATA) + "/models/";
  // tiny-qwen2-yarn: head_dim 16, theta 1e6, factor 4, original 128: the correction range
  // is [max(floor(-0.26), 0), ceil(1.75)] = [0, 2], so pair 1 is an even blend.
  const RopeInit yarn = compute_rope(load_model_config(models + "tiny-qwen2-yarn"));
  ASSERT_EQ(yarn.inv_freq.size(), 8u);
  EXPECT_EQ(yarn.attention_scaling, float(0.1 * std::log(4.0) + 1.0));
  EXPECT_EQ(yarn.inv_freq[0], 1.0f);
  expect_near_rel(yarn.inv_freq[1], plain(1e6, 16, 1) * (0.5 / 4 + 0.5));
  for (int i = 2; i < 8; ++i) expect_near_rel(yarn.inv_freq[i], plain(1e6, 16, i) / 4);

  // tiny-llama3: head_dim 32, theta 5e5, original context 64: wavelengths below 16 are
  // kept, above 64 divided by 8.
  const RopeInit llama3 = compute_rope(load_model_config(models + "tiny-llama3"));
  ASSERT_EQ(llama3.inv_freq.size(), 16u);
  for (int i = 0; i < 16; ++i) {
    SCOPED_TRACE(i);
    const double inv = plain(500000.0, 32, i);
    const double wavelen = 2 * kPi / inv;
    const double smooth = (64 / wavelen - 1) / 3;
    const double want = wavelen < 16 ? inv : wavelen > 64 ? inv / 8 : (1 - smooth) * inv / 8 + smooth * inv;
    expect_near_rel(llama3.inv_freq[i], want, 1e-6);
  }

  const RopeInit linear = compute_rope(load_model_config(models + "tiny-llama-linear"));
  for (int i = 0; i < 8; ++i) expect_near_rel(linear.inv_freq[i], plain(10000.0, 16, i) / 2);
}

}  // namespace
}  // namespace tern
