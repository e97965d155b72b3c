// embedding and gather_rows: exact row copies, checked against the CPU on random tables
// with odd widths (16-byte, 4-byte and 2-byte row paths).
#include <gtest/gtest.h>

#include <cmath>

#include "op_test_support.h"

namespace tern::test {
namespace {

std::vector<int32_t> random_ids(int n, int limit, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> dist(0, limit - 1);
  std::vector<int32_t> ids(n);
  for (int32_t& id : ids) id = dist(rng);
  ids[n / 2] = ids[0];  // a repeated id
  return ids;
}

class Embedding : public ::testing::TestWithParam<int> {};

TEST_P(Embedding, MatchesCpuExactly) {
  const int hidden = GetParam(), vocab = 61, tokens = 13;
  std::mt19937 rng = rng_for_test();
  std::vector<float> table = random_bf16(size_t(vocab) * hidden, rng);
  std::vector<int32_t> ids = random_ids(tokens, vocab, rng);
  Tensor ref = cpu().alloc(DType::kF32, {tokens, hidden});
  cpu().embedding(i32_on(cpu(), ids, {tokens}), on_cpu(table, {vocab, hidden}), ref);
  GuardedOutput out = guarded_cuda_output(DType::kBF16, {tokens, hidden});
  cuda().embedding(i32_on(cuda(), ids, {tokens}), on_cuda(table, {vocab, hidden}), out.tensor);
  EXPECT_EQ(download(cuda(), out.tensor), download(cpu(), ref));
  expect_guard_intact(out, "embedding");
}

INSTANTIATE_TEST_SUITE_P(Widths, Embedding, ::testing::Values(96, 200, 37, 3584));

TEST(EmbeddingErrors, AnIdOutsideTheVocabularyGivesANanRowNotAnOutOfBoundsRead) {
  const int hidden = 96, vocab = 10;
  std::mt19937 rng = rng_for_test();
  std::vector<float> table = random_bf16(size_t(vocab) * hidden, rng);
  GuardedOutput out = guarded_cuda_output(DType::kBF16, {3, hidden});
  cuda().embedding(i32_on(cuda(), {4, vocab, -1}, {3}), on_cuda(table, {vocab, hidden}), out.tensor);
  std::vector<float> got = download(cuda(), out.tensor);
  for (int i = 0; i < hidden; ++i) {
    EXPECT_EQ(got[i], table[4 * hidden + i]);
    EXPECT_TRUE(std::isnan(got[hidden + i]));
    EXPECT_TRUE(std::isnan(got[2 * hidden + i]));
  }
  expect_guard_intact(out, "embedding");
}

TEST(EmbeddingErrors, RejectsAnF32Output) {
  Tensor table = on_cuda(std::vector<float>(40, 1.0f), {4, 10});
  Tensor out = cuda().alloc(DType::kF32, {1, 10});
  EXPECT_THROW(cuda().embedding(i32_on(cuda(), {1}, {1}), table, out), Error);
}

struct GatherCase {
  DType dtype;
  int rows, cols, count;
};

class GatherRows : public ::testing::TestWithParam<GatherCase> {};

TEST_P(GatherRows, MatchesCpuExactly) {
  const GatherCase c = GetParam();
  std::mt19937 rng = rng_for_test();
  std::vector<float> x = random_bf16(size_t(c.rows) * c.cols, rng);
  std::vector<int32_t> idx = random_ids(c.count, c.rows, rng);
  Tensor ref = cpu().alloc(DType::kF32, {c.count, c.cols});
  cpu().gather_rows(on_cpu(x, {c.rows, c.cols}), i32_on(cpu(), idx, {c.count}), ref);
  GuardedOutput out = guarded_cuda_output(c.dtype, {c.count, c.cols});
  cuda().gather_rows(on_cuda(x, {c.rows, c.cols}, c.dtype), i32_on(cuda(), idx, {c.count}), out.tensor);
  EXPECT_EQ(download(cuda(), out.tensor), download(cpu(), ref));
  expect_guard_intact(out, "gather_rows");
}

INSTANTIATE_TEST_SUITE_P(Shapes, GatherRows,
                         ::testing::Values(GatherCase{DType::kBF16, 19, 96, 7}, GatherCase{DType::kBF16, 5, 37, 9},
                                           GatherCase{DType::kBF16, 33, 200, 1}, GatherCase{DType::kF32, 8, 1001, 5},
                                           GatherCase{DType::kF32, 300, 64, 257}));

}  // namespace
}  // namespace tern::test
