// Round-to-nearest and GPTQ: error bounds of the grid, GPTQ's lower output error on
// correlated inputs, its reduction to RTN when inputs are uncorrelated, act-order
// groups, and the inverse-Hessian factor.
#include <gtest/gtest.h>

#include <random>

#include "quant/gptq.h"
#include "quant/group_quantizer.h"
#include "quant/linalg.h"
#include "quant/rtn.h"
#include "quant_fixture.h"

namespace tern {
namespace {

Tensor random_matrix(int64_t rows, int64_t cols, uint32_t seed, float stddev = 0.05f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, stddev);
  Tensor t = host_tensor(DType::kF32, {rows, cols});
  for (int64_t i = 0; i < t.numel(); ++i) t.ptr<float>()[i] = normal(rng);
  return t;
}

// Inputs whose features are strongly correlated, as activations of a real layer tend to
// be: x = z A + small noise, with A [6, features] fixed by `directions` and z drawn
// fresh from `seed`.
Tensor correlated_inputs(int64_t tokens, int64_t features, uint32_t directions, uint32_t seed) {
  const int64_t latent = 6;
  const Tensor a = random_matrix(latent, features, directions, 1.0f), z = random_matrix(tokens, latent, seed, 1.0f);
  Tensor x = random_matrix(tokens, features, seed + 1, 0.05f);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t f = 0; f < features; ++f)
      for (int64_t l = 0; l < latent; ++l)
        x.ptr<float>()[t * features + f] += z.ptr<float>()[t * latent + l] * a.ptr<float>()[l * features + f];
  return x;
}

// Sum over tokens and outputs of (x W^T - x Wq^T)^2.
double output_error(const Tensor& x, const Tensor& w, const Int4Weight& q) {
  const Tensor wq = dequantize_int4(q);
  const int64_t t = x.rows(), k = x.cols(), n = w.rows();
  double err = 0;
  for (int64_t i = 0; i < t; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double d = 0;
      for (int64_t c = 0; c < k; ++c)
        d += double(x.ptr<float>()[i * k + c]) *
             (double(w.ptr<float>()[j * k + c]) - double(wq.ptr<float>()[j * k + c]));
      err += d * d;
    }
  }
  return err;
}

TEST(QuantRtn, EveryWeightIsWithinHalfAStepOfItsGrid) {
  for (bool sym : {false, true}) {
    const Tensor w = random_matrix(16, 96, 1);
    const Int4Weight q = quantize_rtn(w, QuantizeOptions{.group_size = 32, .sym = sym});
    validate_int4(q, "rtn");
    const Tensor d = dequantize_int4(q);
    for (int64_t j = 0; j < 16; ++j) {
      for (int64_t i = 0; i < 96; ++i) {
        const float scale = q.scales.ptr<float>()[j * 3 + i / 32];
        const int zero = q.zeros.ptr<uint8_t>()[j * 3 + i / 32];
        if (sym)
          EXPECT_EQ(zero, 8);
        else
          EXPECT_TRUE(zero >= 1 && zero <= 15) << zero;
        EXPECT_LE(std::abs(d.ptr<float>()[j * 96 + i] - w.ptr<float>()[j * 96 + i]), 0.5f * scale * 1.001f)
            << "sym " << sym << " row " << j << " col " << i;
      }
    }
  }
}

TEST(QuantRtn, GridsHandleConstantAndOneSidedGroups) {
  const float zeros[4] = {0, 0, 0, 0};
  const GroupGrid z = find_group_grid(zeros, 4, false);
  EXPECT_GT(z.scale, 0.0f);
  EXPECT_EQ(grid_value(quantize_to_grid(0.0f, z), z), 0.0f);
  // All values positive: zero stays at 1 (GPTQ v1 cannot store 0) and the top still fits.
  const float positive[4] = {0.1f, 0.5f, 1.0f, 1.4f};
  const GroupGrid p = find_group_grid(positive, 4, false);
  EXPECT_EQ(p.zero, 1);
  EXPECT_LE(std::abs(grid_value(quantize_to_grid(1.4f, p), p) - 1.4f), 0.5f * p.scale * 1.001f);
  EXPECT_EQ(f16_to_f32(f32_to_f16(p.scale)), p.scale);
}

TEST(QuantGptq, InverseFactorSatisfiesUtUTimesHIsIdentity) {
  const int64_t n = 24;
  const Tensor x = correlated_inputs(40, n, 3, 4);
  HessianAccumulator acc(n);
  acc.add(x);
  std::vector<double> h = acc.hessian();
  for (int64_t i = 0; i < n; ++i) h[size_t(i * n + i)] += 0.01;
  std::vector<double> u = h;
  ASSERT_TRUE(inverse_cholesky_upper(u, n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) ASSERT_EQ(u[size_t(i * n + j)], 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;  // (U^T U H)[i, j]
      for (int64_t a = 0; a < n; ++a) {
        double utu = 0;
        for (int64_t b = 0; b < n; ++b) utu += u[size_t(b * n + i)] * u[size_t(b * n + a)];
        s += utu * h[size_t(a * n + j)];
      }
      EXPECT_NEAR(s, i == j ? 1.0 : 0.0, 1e-8) << i << "," << j;
    }
  }
  std::vector<double> not_pd(size_t(n * n), 0.0);
  EXPECT_FALSE(inverse_cholesky_upper(not_pd, n));
}

TEST(QuantGptq, HessianIsTwoOverNTimesXtX) {
  Tensor x = host_tensor(DType::kF32, {2, 2});
  const float values[4] = {1, 2, 3, 4};
  std::copy(values, values + 4, x.ptr<float>());
  HessianAccumulator acc(2);
  acc.add(x.slice_rows(0, 1));
  acc.add(x.slice_rows(1, 2));
  EXPECT_EQ(acc.num_samples(), 2);
  EXPECT_EQ(acc.hessian(), (std::vector<double>{10, 14, 14, 20}));  // 2/2 * [[1+9, 2+12], [.., 4+16]]
}

TEST(QuantGptq, BeatsRoundToNearestOnCorrelatedInputs) {
  const int64_t n = 32, k = 128;
  const Tensor w = random_matrix(n, k, 10);
  // Calibrated on some tokens, judged on fresh tokens of the same distribution.
  const Tensor calib = correlated_inputs(512, k, 20, 30), held_out = correlated_inputs(256, k, 20, 40);
  HessianAccumulator acc(k);
  acc.add(calib);
  for (bool act_order : {false, true}) {
    for (bool sym : {false, true}) {
      const QuantizeOptions quant{.group_size = 32, .sym = sym};
      const Int4Weight rtn = quantize_rtn(w, quant);
      const Int4Weight gptq = quantize_gptq(w, acc, GptqOptions{.quant = quant, .act_order = act_order});
      validate_int4(gptq, "gptq");
      const double e_rtn = output_error(held_out, w, rtn), e_gptq = output_error(held_out, w, gptq);
      EXPECT_LT(e_gptq, 0.6 * e_rtn) << "act_order " << act_order << " sym " << sym << ": GPTQ " << e_gptq << " vs RTN "
                                     << e_rtn;
    }
  }
}

TEST(QuantGptq, UncorrelatedInputsGiveRoundToNearest) {
  // H = c I: no column can compensate another, so GPTQ's choices are RTN's.
  const int64_t k = 64;
  Tensor x = host_tensor(DType::kF32, {k, k});
  for (int64_t i = 0; i < k * k; ++i) x.ptr<float>()[i] = (i / k == i % k) ? 2.0f : 0.0f;
  HessianAccumulator acc(k);
  acc.add(x);
  const Tensor w = random_matrix(16, k, 5);
  const QuantizeOptions quant{.group_size = 16, .sym = false};
  quant_test::expect_same_int4(quantize_gptq(w, acc, GptqOptions{.quant = quant}), quantize_rtn(w, quant));
}

TEST(QuantGptq, ActOrderGroupsFollowDecreasingHessianDiagonal) {
  const int64_t k = 32, group = 8;
  Tensor x = random_matrix(64, k, 7, 1.0f);
  // Input column c is scaled by (c % 5 + 1): its Hessian diagonal grows with c % 5.
  for (int64_t t = 0; t < 64; ++t)
    for (int64_t c = 0; c < k; ++c) x.ptr<float>()[t * k + c] *= float(c % 5 + 1) * float(c % 5 + 1);
  HessianAccumulator acc(k);
  acc.add(x);
  const Int4Weight q = quantize_gptq(random_matrix(8, k, 8), acc,
                                     GptqOptions{.quant = {.group_size = group, .sym = true}, .act_order = true});
  ASSERT_FALSE(q.group_index.empty());
  validate_int4(q, "act-order");
  const std::vector<double> h = acc.hessian();
  std::vector<int> per_group(size_t(k / group), 0);
  for (int64_t c = 0; c < k; ++c) {
    const int32_t g = q.group_index.ptr<int32_t>()[c];
    ++per_group[size_t(g)];
    // Every column of an earlier group has a Hessian diagonal at least as large.
    for (int64_t d = 0; d < k; ++d) {
      if (q.group_index.ptr<int32_t>()[d] < g) {
        EXPECT_GE(h[size_t(d * k + d)], h[size_t(c * k + c)]);
      }
    }
  }
  for (int count : per_group) EXPECT_EQ(count, group);
}

}  // namespace
}  // namespace tern
