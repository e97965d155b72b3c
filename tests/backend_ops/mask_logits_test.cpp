// mask_logits: the CUDA op leaves exactly the CPU op's logits (allowed columns untouched,
// the others -inf, rows not named untouched), for odd vocabularies, masks narrower than
// the row, all-allowed and all-but-one words, and writes nothing past the logits.
#include <gtest/gtest.h>

#include <cmath>

#include "op_test_support.h"

namespace tern::test {
namespace {

struct MaskCase {
  int rows, vocab, words;
  std::vector<int32_t> masked;  // logits rows that get a mask
};

class MaskLogits : public ::testing::TestWithParam<MaskCase> {};

TEST_P(MaskLogits, MatchesCpuExactly) {
  const MaskCase c = GetParam();
  std::mt19937 rng = rng_for_test();
  const std::vector<float> logits = random_bf16(size_t(c.rows) * c.vocab, rng, 8.0f);
  const int n = int(c.masked.size());
  std::vector<int32_t> masks(size_t(n) * c.words);
  for (size_t i = 0; i < masks.size(); ++i) {
    switch (i % 4) {
      case 0:
        masks[i] = int32_t(rng());  // random bits
        break;
      case 1:
        masks[i] = -1;  // every column allowed
        break;
      case 2:
        masks[i] = 0;  // none
        break;
      default:
        masks[i] = int32_t(1u << (rng() % 32));  // one column
    }
  }
  Tensor ref = on_cpu(logits, {c.rows, c.vocab});
  cpu().mask_logits(ref, i32_on(cpu(), c.masked, {n}), i32_on(cpu(), masks, {n, c.words}));
  GuardedOutput out = guarded_cuda_output(DType::kF32, {c.rows, c.vocab});
  cuda().copy_from_host(out.tensor, logits.data());
  cuda().mask_logits(out.tensor, i32_on(cuda(), c.masked, {n}), i32_on(cuda(), masks, {n, c.words}));
  const std::vector<float> got = download(cuda(), out.tensor), want = download(cpu(), ref);
  ASSERT_EQ(got.size(), want.size());
  size_t masked = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i] == want[i]) << "element " << i << ": " << got[i] << " vs " << want[i];
    masked += std::isinf(want[i]);
  }
  if (n > 0) {
    EXPECT_GT(masked, 0u) << "the case masks nothing: it checks nothing";
  } else {
    EXPECT_EQ(masked, 0u);
  }
  expect_guard_intact(out, "mask_logits");
}

INSTANTIATE_TEST_SUITE_P(Shapes, MaskLogits,
                         ::testing::Values(MaskCase{3, 100, 4, {2, 0}},           // vocab not a multiple of 32
                                           MaskCase{5, 4000, 120, {4}},           // mask narrower than the row
                                           MaskCase{1, 32, 1, {0}},               // one word
                                           MaskCase{9, 152064, 4752, {8, 1, 5}},  // Qwen2.5-7B's logits
                                           MaskCase{4, 1000, 32, {}}));           // nothing to mask

}  // namespace
}  // namespace tern::test
