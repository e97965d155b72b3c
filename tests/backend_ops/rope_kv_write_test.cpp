// rope_kv_write against the CPU: positions up to 1e5 (where a fast cosf would be off),
// YaRN-style attention scaling, GQA shapes, padding slots (-1); the written cache slots
// match the CPU and every other slot keeps its old bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "op_test_support.h"

namespace tern::test {
namespace {

struct RopeCase {
  int tokens, hq, hkv, d, block_size;
  float scaling;
};

class RopeKvWrite : public ::testing::TestWithParam<RopeCase> {};

TEST_P(RopeKvWrite, MatchesCpuAndTouchesOnlyItsSlots) {
  const RopeCase c = GetParam();
  std::mt19937 rng = rng_for_test();
  const int num_blocks = (c.tokens + c.block_size - 1) / c.block_size + 3;
  const int num_slots = num_blocks * c.block_size;
  const int width = (c.hq + 2 * c.hkv) * c.d, kv_row = c.hkv * c.d;

  std::vector<float> qkv = random_bf16(size_t(c.tokens) * width, rng, 2.0f);
  std::vector<int32_t> positions(c.tokens), slots(num_slots);
  std::uniform_int_distribution<int32_t> pos_dist(0, 100000);
  for (int32_t& p : positions) p = pos_dist(rng);
  positions[0] = 0;
  std::iota(slots.begin(), slots.end(), 0);
  std::shuffle(slots.begin(), slots.end(), rng);
  slots.resize(c.tokens);
  if (c.tokens > 2) slots[1] = -1;  // padding: nothing written
  std::vector<float> inv_freq(c.d / 2);
  for (int i = 0; i < c.d / 2; ++i) inv_freq[i] = float(std::pow(1e6, -2.0 * i / c.d));
  std::vector<float> k_init = random_bf16(size_t(num_slots) * kv_row, rng), v_init = random_bf16(k_init.size(), rng);

  const AttentionShape shape{.num_q_heads = c.hq, .num_kv_heads = c.hkv, .head_dim = c.d, .scale = 1.0f};
  KvCacheLayer ref_cache{on_cpu(k_init, {num_blocks, c.block_size, c.hkv, c.d}),
                         on_cpu(v_init, {num_blocks, c.block_size, c.hkv, c.d})};
  Tensor ref_q = cpu().alloc(DType::kF32, {c.tokens, c.hq * c.d});
  cpu().rope_kv_write(on_cpu(qkv, {c.tokens, width}), i32_on(cpu(), positions, {c.tokens}),
                      i32_on(cpu(), slots, {c.tokens}), RopeParams{on_cpu(inv_freq, {c.d / 2}), c.scaling}, shape,
                      ref_cache, ref_q);

  KvCacheLayer cache{on_cuda(k_init, {num_blocks, c.block_size, c.hkv, c.d}),
                     on_cuda(v_init, {num_blocks, c.block_size, c.hkv, c.d})};
  GuardedOutput q_out = guarded_cuda_output(DType::kBF16, {c.tokens, c.hq * c.d});
  cuda().rope_kv_write(on_cuda(qkv, {c.tokens, width}), i32_on(cuda(), positions, {c.tokens}),
                       i32_on(cuda(), slots, {c.tokens}),
                       RopeParams{on_cuda(inv_freq, {c.d / 2}, DType::kF32), c.scaling}, shape, cache, q_out.tensor);

  expect_close(download(cuda(), q_out.tensor), download(cpu(), ref_q), 1e-2, "rotated q");
  expect_guard_intact(q_out, "rope_kv_write q_out");
  const std::vector<float> k_got = download(cuda(), cache.k), v_got = download(cuda(), cache.v);
  const std::vector<float> k_ref = download(cpu(), ref_cache.k), v_ref = download(cpu(), ref_cache.v);
  std::vector<bool> written(num_slots, false);
  for (int32_t s : slots)
    if (s >= 0) written[s] = true;
  std::vector<float> k_written_got, k_written_ref;
  for (int s = 0; s < num_slots; ++s) {
    const size_t at = size_t(s) * kv_row;
    if (!written[s]) {
      // Untouched: still the bytes it had (the initial values were BF16-exact).
      ASSERT_TRUE(std::equal(k_got.begin() + at, k_got.begin() + at + kv_row, k_init.begin() + at)) << "k slot " << s;
      ASSERT_TRUE(std::equal(v_got.begin() + at, v_got.begin() + at + kv_row, v_init.begin() + at)) << "v slot " << s;
      continue;
    }
    k_written_got.insert(k_written_got.end(), k_got.begin() + at, k_got.begin() + at + kv_row);
    k_written_ref.insert(k_written_ref.end(), k_ref.begin() + at, k_ref.begin() + at + kv_row);
    // V is copied, not rotated: exact.
    ASSERT_TRUE(std::equal(v_got.begin() + at, v_got.begin() + at + kv_row, v_ref.begin() + at)) << "v slot " << s;
  }
  expect_close(k_written_got, k_written_ref, 1e-2, "rotated k in the cache");
}

INSTANTIATE_TEST_SUITE_P(Shapes, RopeKvWrite,
                         ::testing::Values(RopeCase{1, 4, 4, 64, 16, 1.0f}, RopeCase{9, 8, 2, 128, 16, 1.0f},
                                           RopeCase{33, 7, 1, 128, 32, 1.3f}, RopeCase{20, 28, 4, 128, 16, 1.0f},
                                           RopeCase{5, 4, 2, 32, 16, 1.0f}, RopeCase{6, 4, 2, 16, 32, 1.0f}));

}  // namespace
}  // namespace tern::test
