// The CPU backend's INT4 linear: bit-identical to the dense linear over the dequantised
// weight, batch-invariant, and an act-order (g_idx) weight computes the same product as
// the equivalent weight with contiguous groups over permuted inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "backend/backend.h"
#include "base/error.h"
#include "quant_fixture.h"

namespace tern {
namespace {

using quant_test::random_int4;

Tensor random_f32(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Tensor t = host_tensor(DType::kF32, {rows, cols});
  for (int64_t i = 0; i < t.numel(); ++i) t.ptr<float>()[i] = normal(rng);
  return t;
}

Tensor bf16_bias(int64_t n, uint32_t seed) {
  const Tensor f = random_f32(1, n, seed);
  Tensor b = host_tensor(DType::kBF16, {n});
  for (int64_t i = 0; i < n; ++i) b.ptr<uint16_t>()[i] = f32_to_bf16(f.ptr<float>()[i]);
  return b;
}

std::vector<float> run_linear(Backend& be, const Tensor& x, const LinearWeight& w) {
  Tensor out = host_tensor(DType::kF32, {x.rows(), w.out_features()});
  be.linear(x, w, out);
  return std::vector<float>(out.ptr<float>(), out.ptr<float>() + out.numel());
}

class QuantLinear : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> cpu_ = make_backend("cpu");
};

TEST_F(QuantLinear, EqualsDenseLinearOfDequantisedWeightsExactly) {
  for (bool act_order : {false, true}) {
    for (bool with_bias : {false, true}) {
      const Int4Weight q = random_int4(40, 96, 32, 9, act_order);
      LinearWeight int4{.weight = {}, .bias = with_bias ? bf16_bias(40, 2) : Tensor{}, .int4 = q};
      LinearWeight dense{.weight = dequantize_int4(q), .bias = int4.bias};
      const Tensor x = random_f32(7, 96, 3);
      EXPECT_EQ(run_linear(*cpu_, x, int4), run_linear(*cpu_, x, dense))
          << "act_order " << act_order << " bias " << with_bias;
    }
  }
}

TEST_F(QuantLinear, EachRowIsTheSameAloneAndInABatch) {
  const LinearWeight w{.weight = {}, .bias = bf16_bias(24, 5), .int4 = random_int4(24, 64, 16, 4, true)};
  const Tensor x = random_f32(9, 64, 6);
  const std::vector<float> batch = run_linear(*cpu_, x, w);
  for (int64_t i = 0; i < 9; ++i) {
    const std::vector<float> alone = run_linear(*cpu_, x.slice_rows(i, i + 1), w);
    EXPECT_TRUE(std::equal(alone.begin(), alone.end(), batch.begin() + i * 24)) << "row " << i;
  }
}

TEST_F(QuantLinear, ActOrderEqualsContiguousGroupsOverPermutedInputs) {
  const int64_t n = 16, k = 64, g = 16;
  const Int4Weight act = random_int4(n, k, g, 8, /*act_order=*/true);
  // Input columns sorted by group: column j of the contiguous weight is column perm[j].
  std::vector<int64_t> perm(static_cast<size_t>(k));
  std::iota(perm.begin(), perm.end(), 0);
  const int32_t* gi = act.group_index.ptr<int32_t>();
  std::stable_sort(perm.begin(), perm.end(), [gi](int64_t a, int64_t b) { return gi[a] < gi[b]; });
  Int4Weight plain = make_host_int4(n, k, g);
  std::memcpy(plain.scales.data, act.scales.data, act.scales.nbytes());
  std::memcpy(plain.zeros.data, act.zeros.data, act.zeros.nbytes());
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < k; ++j) set_int4_code(plain, r, j, int4_code(act, r, perm[size_t(j)]));
  const Tensor x = random_f32(5, k, 1);
  Tensor xp = host_tensor(DType::kF32, {5, k});
  for (int64_t t = 0; t < 5; ++t)
    for (int64_t j = 0; j < k; ++j) xp.ptr<float>()[t * k + j] = x.ptr<float>()[t * k + perm[size_t(j)]];

  const std::vector<float> a = run_linear(*cpu_, x, LinearWeight{.weight = {}, .bias = {}, .int4 = act});
  const std::vector<float> b = run_linear(*cpu_, xp, LinearWeight{.weight = {}, .bias = {}, .int4 = plain});
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5f * (1.0f + std::abs(b[i]))) << i;
}

TEST_F(QuantLinear, ShapeMismatchNamesTheInt4Weight) {
  const LinearWeight w{.weight = {}, .bias = {}, .int4 = random_int4(8, 32, 8, 1)};
  Tensor out = host_tensor(DType::kF32, {2, 8});
  try {
    cpu_->linear(random_f32(2, 16, 1), w, out);
    FAIL() << "a 16-wide x was accepted by a 32-input weight";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("times INT4 weight [8, 32]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tern
