// INT4 linear against the CPU reference: the W4A16 GEMM at every token tile (16 to 256,
// and several tiles), with and without a K split (forced splits too), partial row blocks
// and stages, group sizes 32 / 64 / 128 / whole row, act-order weights, GPTQ v1 zero
// points up to 16, BF16 and F32 outputs with and without bias; rows independent of each
// other within a token tile; repeated calls bit-identical; shapes the kernels cannot
// read are refused at upload.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "../unit/int4_random.h"
#include <cstdlib>

#include "backend/cuda/w4a16_schedule.h"
#include "op_test_support.h"

namespace tern::test {
namespace {

struct Int4Case {
  int m, k, n, group_size;
  bool act_order;
  DType out_dtype;
  bool bias;
  int forced_slices = 0;  // TERN_W4A16_SLICES for this case (0: the schedule's choice)
};

std::string describe(const Int4Case& c) {
  return "int4 linear m=" + std::to_string(c.m) + " k=" + std::to_string(c.k) + " n=" + std::to_string(c.n) +
         " g=" + std::to_string(c.group_size) + (c.act_order ? " act-order" : "") +
         (c.out_dtype == DType::kF32 ? " F32" : " BF16") + (c.bias ? " +bias" : "") +
         (c.forced_slices ? " slices=" + std::to_string(c.forced_slices) : "");
}

// Sets TERN_W4A16_SLICES for one scope.
class ForcedSlices {
 public:
  explicit ForcedSlices(int slices) {
    if (slices > 0) setenv("TERN_W4A16_SLICES", std::to_string(slices).c_str(), 1);
  }
  ~ForcedSlices() { unsetenv("TERN_W4A16_SLICES"); }
};

class LinearInt4 : public ::testing::TestWithParam<Int4Case> {};

TEST_P(LinearInt4, MatchesCpu) {
  const Int4Case c = GetParam();
  std::mt19937 rng = rng_for_test();
  const Int4Weight host = quant_test::random_int4(c.n, c.k, c.group_size, rng(), c.act_order, 0, 16);
  std::vector<float> x = random_bf16(size_t(c.m) * c.k, rng);
  std::vector<float> b = random_bf16(size_t(c.n), rng);
  LinearWeight ref_w{.weight = {}, .bias = c.bias ? on_cpu(b, {c.n}) : Tensor{}, .int4 = host};
  Tensor ref = cpu().alloc(DType::kF32, {c.m, c.n});
  cpu().linear(on_cpu(x, {c.m, c.k}), ref_w, ref);

  LinearWeight got_w{.weight = {}, .bias = c.bias ? on_cuda(b, {c.n}, c.out_dtype) : Tensor{}, .int4 = cuda().upload_int4(host)};
  GuardedOutput out = guarded_cuda_output(c.out_dtype, {c.m, c.n});
  {
    const ForcedSlices forced(c.forced_slices);
    cuda().linear(on_cuda(x, {c.m, c.k}), got_w, out.tensor);
  }
  // The kernel rounds each weight (code - zero) * scale to BF16, with the F16 scale rounded
  // to BF16 first, and sums in F32: an F32 output differs from the CPU's F32 dequantisation
  // by about BF16's precision over the sum.
  const double tolerance = c.out_dtype == DType::kBF16 ? 1e-2 : 5e-3;
  expect_close(download(cuda(), out.tensor), download(cpu(), ref), tolerance, describe(c));
  expect_guard_intact(out, describe(c));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, LinearInt4,
    ::testing::Values(Int4Case{1, 3584, 512, 128, false, DType::kBF16, true},
                      Int4Case{1, 1024, 1024, 128, false, DType::kF32, false},
                      Int4Case{2, 512, 4608, 32, false, DType::kBF16, true},
                      Int4Case{3, 640, 96, 64, true, DType::kF32, true},  // 10 column tiles: a partial stage
                      Int4Case{8, 1024, 256, 128, true, DType::kBF16, false},
                      Int4Case{9, 256, 160, 256, false, DType::kF32, true},
                      Int4Case{5, 192, 64, 192, false, DType::kF32, true},  // one group, not a power of two
                      Int4Case{12, 3072, 128, 1024, true, DType::kF32, false},
                      Int4Case{16, 2048, 384, 128, false, DType::kBF16, true},
                      Int4Case{17, 2048, 384, 128, false, DType::kBF16, true},
                      Int4Case{24, 192, 48, 32, true, DType::kF32, false},
                      Int4Case{32, 18944, 128, 128, false, DType::kF32, true},
                      Int4Case{33, 512, 256, 128, false, DType::kF32, true},
                      Int4Case{47, 1024, 64, 64, true, DType::kBF16, false},
                      Int4Case{64, 3584, 512, 128, false, DType::kF32, true},
                      Int4Case{65, 512, 256, 128, false, DType::kF32, true},
                      Int4Case{100, 1024, 512, 64, true, DType::kBF16, true},
                      Int4Case{128, 1024, 272, 32, false, DType::kF32, true},  // 2 row blocks, the last of one tile
                      Int4Case{130, 1024, 256, 128, false, DType::kF32, true},
                      Int4Case{200, 2048, 384, 128, false, DType::kBF16, true},
                      Int4Case{256, 3584, 640, 128, false, DType::kF32, false},
                      Int4Case{257, 256, 64, 32, false, DType::kF32, false},
                      Int4Case{600, 1024, 384, 128, true, DType::kBF16, true},
                      Int4Case{1100, 512, 256, 64, false, DType::kF32, true},
                      // Forced K splits: the partial sums and the last block's ordered reduction.
                      Int4Case{1, 3584, 256, 128, false, DType::kF32, true, 7},
                      Int4Case{20, 1024, 400, 32, true, DType::kBF16, true, 3},
                      Int4Case{70, 2048, 256, 128, false, DType::kF32, false, 5},
                      Int4Case{256, 1024, 128, 64, false, DType::kF32, true, 16},
                      Int4Case{40, 1024, 128, 64, false, DType::kBF16, true, 4}));

TEST(LinearInt4Repeat, RepeatedCallsAreBitIdentical) {
  // A K split sums its slices in slice order, whichever block finishes last.
  const int m = 3, k = 18944, n = 3584;
  std::mt19937 rng = rng_for_test();
  LinearWeight weight{.weight = {}, .bias = {}, .int4 = cuda().upload_int4(quant_test::random_int4(n, k, 128, rng()))};
  const Tensor x = on_cuda(random_bf16(size_t(m) * k, rng), {m, k});
  Tensor first = cuda().alloc(DType::kF32, {m, n}), again = cuda().alloc(DType::kF32, {m, n});
  cuda().linear(x, weight, first);
  const std::vector<float> want = download(cuda(), first);
  for (int i = 0; i < 5; ++i) {
    cuda().linear(x, weight, again);
    ASSERT_EQ(download(cuda(), again), want) << "call " << i;
  }
}

TEST(LinearInt4Rows, EachOutputRowDependsOnlyOnItsInputRow) {
  // Within one token tile, permuting the rows of x permutes the output rows bit for bit.
  const int m = 29, k = 1024, n = 256;
  std::mt19937 rng = rng_for_test();
  std::vector<float> x = random_bf16(size_t(m) * k, rng);
  std::vector<int> perm(m);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<float> x_perm(x.size());
  for (int r = 0; r < m; ++r) std::copy_n(x.begin() + size_t(perm[r]) * k, k, x_perm.begin() + size_t(r) * k);
  LinearWeight weight{.weight = {}, .bias = {}, .int4 = cuda().upload_int4(quant_test::random_int4(n, k, 128, rng(), true))};
  Tensor a = cuda().alloc(DType::kBF16, {m, n}), b = cuda().alloc(DType::kBF16, {m, n});
  cuda().linear(on_cuda(x, {m, k}), weight, a);
  cuda().linear(on_cuda(x_perm, {m, k}), weight, b);
  std::vector<float> out_a = download(cuda(), a), out_b = download(cuda(), b);
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < n; ++j)
      ASSERT_EQ(out_b[size_t(r) * n + j], out_a[size_t(perm[r]) * n + j]) << "row " << r << " col " << j;
}

TEST(LinearInt4Errors, RefusesAHostLayoutWeightAndMismatchedShapes) {
  const Int4Weight host = quant_test::random_int4(64, 128, 32, 1);
  Tensor x = on_cuda(std::vector<float>(2 * 128, 0.5f), {2, 128});
  LinearWeight raw{.weight = {}, .bias = {}, .int4 = host};
  EXPECT_THROW(cuda().linear(x, raw, cuda().alloc(DType::kBF16, {2, 64})), Error);
  LinearWeight w{.weight = {}, .bias = {}, .int4 = cuda().upload_int4(host)};
  EXPECT_THROW(cuda().linear(x, w, cuda().alloc(DType::kBF16, {2, 63})), Error);
  EXPECT_THROW(cuda().upload_int4(quant_test::random_int4(24, 128, 32, 1)), Error);
}

}  // namespace
}  // namespace tern::test
