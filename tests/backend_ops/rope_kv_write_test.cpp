// rope_kv_write against the CPU: positions up to 1e5 (where a fast cosf would be off),
// YaRN-style attention scaling, GQA shapes, padding slots (-1); the written cache slots
// match the CPU and every other slot keeps its old bytes. With an FP8 cache as well:
// scales that saturate (+-448) and that reach the subnormal codes.
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
  float k_scale = 0.0f, v_scale = 0.0f;  // FP8 cases only
};

// One random problem: the inputs, the cache's initial contents, and which slots are written.
struct RopeProblem {
  RopeCase c;
  int num_blocks, num_slots, width, kv_row;
  std::vector<float> qkv, inv_freq;
  std::vector<int32_t> positions, slots;
  std::vector<bool> written;

  explicit RopeProblem(const RopeCase& test_case, std::mt19937& rng) : c(test_case) {
    num_blocks = (c.tokens + c.block_size - 1) / c.block_size + 3;
    num_slots = num_blocks * c.block_size;
    width = (c.hq + 2 * c.hkv) * c.d;
    kv_row = c.hkv * c.d;
    qkv = random_bf16(size_t(c.tokens) * width, rng, 2.0f);
    positions.resize(c.tokens);
    std::uniform_int_distribution<int32_t> pos_dist(0, 100000);
    for (int32_t& p : positions) p = pos_dist(rng);
    positions[0] = 0;
    slots.resize(num_slots);
    std::iota(slots.begin(), slots.end(), 0);
    std::shuffle(slots.begin(), slots.end(), rng);
    slots.resize(c.tokens);
    if (c.tokens > 2) slots[1] = -1;  // padding: nothing written
    inv_freq.resize(c.d / 2);
    for (int i = 0; i < c.d / 2; ++i) inv_freq[i] = float(std::pow(1e6, -2.0 * i / c.d));
    written.assign(num_slots, false);
    for (int32_t s : slots)
      if (s >= 0) written[s] = true;
  }

  // A cache of this problem's shape on `backend`: F32 (CPU) or BF16 (CUDA) values, or e4m3 codes.
  Tensor cache_of(Backend& backend, const std::vector<float>& values) const {
    const std::initializer_list<int64_t> shape{num_blocks, c.block_size, c.hkv, c.d};
    return &backend == &cuda() ? on_cuda(values, shape) : on_cpu(values, shape);
  }
  Tensor cache_of(Backend& backend, const std::vector<uint8_t>& codes) const {
    return e4m3_on(backend, codes, {num_blocks, c.block_size, c.hkv, c.d});
  }
  AttentionShape shape() const { return {.num_q_heads = c.hq, .num_kv_heads = c.hkv, .head_dim = c.d, .scale = 1.0f}; }

  // Runs the op on `backend` (F32 operands on the CPU, BF16 on CUDA); returns the rotated q.
  std::vector<float> run(Backend& backend, const KvCacheLayer& cache) const {
    const bool on_gpu = &backend == &cuda();
    const auto floats = [&](const std::vector<float>& v, std::initializer_list<int64_t> shape, DType cuda_dtype) {
      return on_gpu ? on_cuda(v, shape, cuda_dtype) : on_cpu(v, shape);
    };
    const RopeParams rope{floats(inv_freq, {c.d / 2}, DType::kF32), c.scaling};
    const Tensor input = floats(qkv, {c.tokens, width}, DType::kBF16);
    const Tensor pos = i32_on(backend, positions, {c.tokens}), slot = i32_on(backend, slots, {c.tokens});
    if (!on_gpu) {
      Tensor q = cpu().alloc(DType::kF32, {c.tokens, c.hq * c.d});
      cpu().rope_kv_write(input, pos, slot, rope, shape(), cache, q);
      return download(cpu(), q);
    }
    GuardedOutput q = guarded_cuda_output(DType::kBF16, {c.tokens, c.hq * c.d});
    cuda().rope_kv_write(input, pos, slot, rope, shape(), cache, q.tensor);
    expect_guard_intact(q, "rope_kv_write q_out");
    return download(cuda(), q.tensor);
  }
};

class RopeKvWrite : public ::testing::TestWithParam<RopeCase> {};

TEST_P(RopeKvWrite, MatchesCpuAndTouchesOnlyItsSlots) {
  std::mt19937 rng = rng_for_test();
  const RopeProblem p(GetParam(), rng);
  std::vector<float> k_init = random_bf16(size_t(p.num_slots) * p.kv_row, rng),
                     v_init = random_bf16(k_init.size(), rng);
  KvCacheLayer ref_cache{p.cache_of(cpu(), k_init), p.cache_of(cpu(), v_init)};
  KvCacheLayer cache{p.cache_of(cuda(), k_init), p.cache_of(cuda(), v_init)};
  const std::vector<float> ref_q = p.run(cpu(), ref_cache), q = p.run(cuda(), cache);

  expect_close(q, ref_q, 1e-2, "rotated q");
  const std::vector<float> k_got = download(cuda(), cache.k), v_got = download(cuda(), cache.v);
  const std::vector<float> k_ref = download(cpu(), ref_cache.k), v_ref = download(cpu(), ref_cache.v);
  std::vector<float> k_written_got, k_written_ref;
  for (int s = 0; s < p.num_slots; ++s) {
    const size_t at = size_t(s) * p.kv_row;
    if (!p.written[s]) {
      // Untouched: still the bytes it had (the initial values were BF16-exact).
      ASSERT_TRUE(std::equal(k_got.begin() + at, k_got.begin() + at + p.kv_row, k_init.begin() + at)) << "k slot " << s;
      ASSERT_TRUE(std::equal(v_got.begin() + at, v_got.begin() + at + p.kv_row, v_init.begin() + at)) << "v slot " << s;
      continue;
    }
    k_written_got.insert(k_written_got.end(), k_got.begin() + at, k_got.begin() + at + p.kv_row);
    k_written_ref.insert(k_written_ref.end(), k_ref.begin() + at, k_ref.begin() + at + p.kv_row);
    // V is copied, not rotated: exact.
    ASSERT_TRUE(std::equal(v_got.begin() + at, v_got.begin() + at + p.kv_row, v_ref.begin() + at)) << "v slot " << s;
  }
  expect_close(k_written_got, k_written_ref, 1e-2, "rotated k in the cache");
}

INSTANTIATE_TEST_SUITE_P(Shapes, RopeKvWrite,
                         ::testing::Values(RopeCase{1, 4, 4, 64, 16, 1.0f}, RopeCase{9, 8, 2, 128, 16, 1.0f},
                                           RopeCase{33, 7, 1, 128, 32, 1.3f}, RopeCase{20, 28, 4, 128, 16, 1.0f},
                                           RopeCase{5, 4, 2, 32, 16, 1.0f}, RopeCase{6, 4, 2, 16, 32, 1.0f}));

// An e4m3 code as a signed step count from zero, so that codes one rounding step apart
// differ by 1 (across zero too: +0 and -0 are both 0).
int e4m3_steps(uint8_t code) { return code & 0x80 ? -int(code & 0x7F) : int(code); }

class RopeKvWriteFp8 : public ::testing::TestWithParam<RopeCase> {};

// Both backends quantise with the same RNE + saturating rule from F32. V's F32 input is the
// same BF16 value on both, so its codes must be identical. K is rotated in F32 by each
// backend's own cos/sin and FMA contraction (a few ulps apart), so a value that lands
// within those ulps of a rounding boundary may round the other way: K's codes must be
// equal or one step apart, and the dequantised K as close as the BF16 test's.
TEST_P(RopeKvWriteFp8, StoresTheCpuCodesAndTouchesOnlyItsSlots) {
  std::mt19937 rng = rng_for_test();
  const RopeProblem p(GetParam(), rng);
  const std::vector<uint8_t> k_init = random_e4m3_codes(size_t(p.num_slots) * p.kv_row, rng),
                             v_init = random_e4m3_codes(k_init.size(), rng);
  const KvCacheLayer ref_cache{p.cache_of(cpu(), k_init), p.cache_of(cpu(), v_init), p.c.k_scale, p.c.v_scale};
  const KvCacheLayer cache{p.cache_of(cuda(), k_init), p.cache_of(cuda(), v_init), p.c.k_scale, p.c.v_scale};
  expect_close(p.run(cuda(), cache), p.run(cpu(), ref_cache), 1e-2, "rotated q");

  const std::vector<uint8_t> k_got = download_bytes(cuda(), cache.k), v_got = download_bytes(cuda(), cache.v);
  const std::vector<uint8_t> k_ref = download_bytes(cpu(), ref_cache.k), v_ref = download_bytes(cpu(), ref_cache.v);
  ASSERT_EQ(v_got, v_ref) << "V codes (untouched slots keep their codes on both sides)";
  std::vector<float> k_values_got, k_values_ref;
  int saturated = 0, subnormal = 0;
  for (size_t i = 0; i < k_got.size(); ++i) {
    if (!p.written[i / p.kv_row]) {
      ASSERT_EQ(k_got[i], k_init[i]) << "k byte " << i << " of an unwritten slot";
      continue;
    }
    ASSERT_LE(std::abs(e4m3_steps(k_got[i]) - e4m3_steps(k_ref[i])), 1)
        << "k byte " << i << ": 0x" << std::hex << int(k_got[i]) << " against the CPU's 0x" << int(k_ref[i]);
    k_values_got.push_back(e4m3_to_f32(k_got[i]) * p.c.k_scale);
    k_values_ref.push_back(e4m3_to_f32(k_ref[i]) * p.c.k_scale);
    saturated += (v_ref[i] & 0x7F) == 0x7E;
    subnormal += (v_ref[i] & 0x78) == 0 && (v_ref[i] & 0x07) != 0;
  }
  expect_close(k_values_got, k_values_ref, 1e-2, "dequantised k in the cache");
  // The scales were picked for these: make sure the case covers what it claims.
  if (p.c.v_scale < 2.0f / 448.0f) {
    EXPECT_GT(saturated, 0) << "no V value saturated";
  }
  if (p.c.v_scale > 1.0f) {
    EXPECT_GT(subnormal, 0) << "no V value stored as a subnormal";
  }
}

// Scales: 1/512 saturates V and K (|x| up to 2 is 1024 / 448); 4 puts |x| < 1/16 into
// the subnormal codes (below 2^-6 * 4); 0.37 is in between and not a power of two.
INSTANTIATE_TEST_SUITE_P(Shapes, RopeKvWriteFp8,
                         ::testing::Values(RopeCase{1, 4, 4, 64, 16, 1.0f, 0.37f, 0.37f},
                                           RopeCase{9, 8, 2, 128, 16, 1.0f, 1.0f / 512, 1.0f / 512},
                                           RopeCase{33, 7, 1, 128, 32, 1.3f, 4.0f, 4.0f},
                                           RopeCase{20, 28, 4, 128, 16, 1.0f, 0.05f, 0.02f},
                                           RopeCase{6, 4, 2, 16, 32, 1.0f, 1.0f, 0.5f}));

TEST(RopeKvWriteFp8Errors, RejectsMixedCachesAndBadScales) {
  std::mt19937 rng = rng_for_test();
  const RopeProblem p(RopeCase{4, 4, 2, 64, 16, 1.0f}, rng);
  const std::vector<uint8_t> codes(size_t(p.num_slots) * p.kv_row, 0);
  const Tensor k = p.cache_of(cuda(), codes);
  const Tensor v_bf16 = p.cache_of(cuda(), std::vector<float>(codes.size(), 0.0f));
  EXPECT_THROW(p.run(cuda(), KvCacheLayer{k, v_bf16, 1.0f, 1.0f}), Error) << "FP8 K with BF16 V";
  EXPECT_THROW(p.run(cuda(), KvCacheLayer{k, k, 0.0f, 1.0f}), Error) << "k_scale 0";
  EXPECT_THROW(p.run(cuda(), KvCacheLayer{k, k, 1.0f, NAN}), Error) << "v_scale NaN";
}

}  // namespace
}  // namespace tern::test
