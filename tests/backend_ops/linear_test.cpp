// linear against the CPU: the GEMV path (M <= 2) and cuBLASLt (larger M), odd M and N,
// BF16 output with a BF16 bias, F32 output (the logits) with and without an F32 bias;
// rows independent of each other.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "op_test_support.h"

namespace tern::test {
namespace {

struct LinearCase {
  int m, k, n;
  DType out_dtype;
  bool bias;
};

std::string describe(const LinearCase& c) {
  return "linear m=" + std::to_string(c.m) + " k=" + std::to_string(c.k) + " n=" + std::to_string(c.n) +
         (c.out_dtype == DType::kF32 ? " F32" : " BF16") + (c.bias ? " +bias" : "");
}

class Linear : public ::testing::TestWithParam<LinearCase> {};

TEST_P(Linear, MatchesCpu) {
  const LinearCase c = GetParam();
  std::mt19937 rng = rng_for_test();
  std::vector<float> x = random_bf16(size_t(c.m) * c.k, rng);
  std::vector<float> w = random_bf16(size_t(c.n) * c.k, rng, 0.2f);
  std::vector<float> b = random_bf16(size_t(c.n), rng);
  LinearWeight ref_w{on_cpu(w, {c.n, c.k}), c.bias ? on_cpu(b, {c.n}) : Tensor{}};
  Tensor ref = cpu().alloc(DType::kF32, {c.m, c.n});
  cpu().linear(on_cpu(x, {c.m, c.k}), ref_w, ref);

  LinearWeight got_w{on_cuda(w, {c.n, c.k}), c.bias ? on_cuda(b, {c.n}, c.out_dtype) : Tensor{}};
  GuardedOutput out = guarded_cuda_output(c.out_dtype, {c.m, c.n});
  cuda().linear(on_cuda(x, {c.m, c.k}), got_w, out.tensor);
  // F32 output: only the summation order differs from the CPU's FP32 dot products.
  const double tolerance = c.out_dtype == DType::kF32 ? 1e-3 : 1e-2;
  expect_close(download(cuda(), out.tensor), download(cpu(), ref), tolerance, describe(c));
  expect_guard_intact(out, describe(c));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Linear,
    ::testing::Values(LinearCase{1, 96, 200, DType::kBF16, false}, LinearCase{2, 3584, 999, DType::kBF16, true},
                      LinearCase{2, 200, 640, DType::kF32, true}, LinearCase{3, 200, 96, DType::kBF16, true},
                      LinearCase{17, 256, 1000, DType::kBF16, true}, LinearCase{64, 3584, 512, DType::kBF16, false},
                      LinearCase{100, 96, 200, DType::kBF16, true}, LinearCase{1, 3584, 1001, DType::kF32, false},
                      LinearCase{8, 200, 4000, DType::kF32, true}, LinearCase{5, 96, 97, DType::kBF16, true}));

TEST(LinearRows, EachOutputRowDependsOnlyOnItsInputRow) {
  // Permuting the rows of x permutes the rows of the output, bit for bit.
  const int m = 24, k = 512, n = 768;
  std::mt19937 rng = rng_for_test();
  std::vector<float> x = random_bf16(size_t(m) * k, rng), w = random_bf16(size_t(n) * k, rng, 0.1f);
  std::vector<int> perm(m);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<float> x_perm(x.size());
  for (int r = 0; r < m; ++r) std::copy_n(x.begin() + size_t(perm[r]) * k, k, x_perm.begin() + size_t(r) * k);
  LinearWeight weight{on_cuda(w, {n, k}), {}};
  Tensor a = cuda().alloc(DType::kBF16, {m, n}), b = cuda().alloc(DType::kBF16, {m, n});
  cuda().linear(on_cuda(x, {m, k}), weight, a);
  cuda().linear(on_cuda(x_perm, {m, k}), weight, b);
  std::vector<float> out_a = download(cuda(), a), out_b = download(cuda(), b);
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < n; ++j)
      ASSERT_EQ(out_b[size_t(r) * n + j], out_a[size_t(perm[r]) * n + j]) << "row " << r << " col " << j;
}

TEST(LinearErrors, RejectsMismatchedShapesAndABiasOfAnotherDtype) {
  LinearWeight w{on_cuda(std::vector<float>(6 * 4, 0.5f), {6, 4}), {}};
  Tensor x = on_cuda(std::vector<float>(2 * 4, 1.0f), {2, 4});
  EXPECT_THROW(cuda().linear(x, w, cuda().alloc(DType::kBF16, {2, 5})), Error);
  EXPECT_THROW(cuda().linear(on_cuda(std::vector<float>(2 * 5, 1.0f), {2, 5}), w, cuda().alloc(DType::kBF16, {2, 6})),
               Error);
  w.bias = on_cuda(std::vector<float>(6, 1.0f), {6}, DType::kBF16);
  EXPECT_THROW(cuda().linear(x, w, cuda().alloc(DType::kF32, {2, 6})), Error);
}

}  // namespace
}  // namespace tern::test
