// embedding_slice, the vocabulary-parallel embedding: ids in the rank's slice copy their
// row exactly as the CPU does, every other id (another rank's, below or above the slice)
// gives a row of zeros, for odd widths (16-byte, 4-byte and 2-byte row paths).
#include <gtest/gtest.h>

#include "op_test_support.h"

namespace tern::test {
namespace {

class EmbeddingSlice : public ::testing::TestWithParam<int> {};

TEST_P(EmbeddingSlice, MatchesCpuExactlyAndZeroesOtherRanksIds) {
  const int hidden = GetParam(), rows = 23, first_id = 40, tokens = 17;
  std::mt19937 rng = rng_for_test();
  std::vector<float> table = random_bf16(size_t(rows) * hidden, rng);
  std::vector<int32_t> ids;
  for (int t = 0; t < tokens; ++t) ids.push_back(int32_t(rng() % 100));  // [0, 100): mostly other ranks'
  ids[0] = first_id;
  ids[1] = first_id + rows - 1;
  ids[2] = first_id - 1;
  ids[3] = first_id + rows;
  Tensor ref = cpu().alloc(DType::kF32, {tokens, hidden});
  cpu().embedding_slice(i32_on(cpu(), ids, {tokens}), on_cpu(table, {rows, hidden}), first_id, ref);
  GuardedOutput out = guarded_cuda_output(DType::kBF16, {tokens, hidden});
  cuda().embedding_slice(i32_on(cuda(), ids, {tokens}), on_cuda(table, {rows, hidden}), first_id, out.tensor);
  const std::vector<float> got = download(cuda(), out.tensor);
  EXPECT_EQ(got, download(cpu(), ref));
  for (int i = 0; i < hidden; ++i) {
    EXPECT_EQ(got[size_t(i)], table[size_t(i)]) << "id " << first_id << " is row 0";
    EXPECT_EQ(got[size_t(2 * hidden + i)], 0.0f) << "id below the slice";
    EXPECT_EQ(got[size_t(3 * hidden + i)], 0.0f) << "id above the slice";
  }
  expect_guard_intact(out, "embedding_slice");
}

INSTANTIATE_TEST_SUITE_P(Widths, EmbeddingSlice, ::testing::Values(96, 200, 37, 3584));

}  // namespace
}  // namespace tern::test
