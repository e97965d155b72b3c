// copy_blocks against the CPU: random caches and copy lists (one source copied to several
// destinations, as copy-on-write does for n > 1), block sizes that take the 16-, 4- and
// 2-byte paths (and the 1-byte one, with FP8 caches), more layers than one launch covers,
// and guard bytes after every cache. The copies are byte moves, so CUDA must match the CPU
// exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "op_test_support.h"

namespace tern::test {
namespace {

struct CopyCase {
  int layers, num_blocks, block_size, hkv, d;
  DType dtype;
  int num_copies;
};

// Distinct destinations, none also a source; sources drawn with repeats.
std::vector<int32_t> random_copies(int num_blocks, int num_copies, std::mt19937& rng) {
  std::vector<int32_t> ids(num_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  std::uniform_int_distribution<int> pick_src(num_copies, num_blocks - 1);
  std::vector<int32_t> pairs;
  for (int i = 0; i < num_copies; ++i) {
    pairs.push_back(ids[pick_src(rng)]);
    pairs.push_back(ids[i]);
  }
  if (num_copies >= 2) pairs[2] = pairs[0];  // one source, two destinations
  return pairs;
}

// The values as the cache dtype's raw bytes (BF16 or F32).
std::vector<uint8_t> raw(const std::vector<float>& values, DType dtype) {
  std::vector<uint8_t> bytes(values.size() * dtype_size(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::kBF16) {
      const uint16_t h = f32_to_bf16(values[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    } else {
      std::memcpy(bytes.data() + 4 * i, &values[i], 4);
    }
  }
  return bytes;
}

struct Caches {
  std::vector<KvCacheLayer> cpu_layers, cuda_layers;
  std::vector<GuardedOutput> guarded;  // the CUDA caches, K and V of each layer, with guard bytes
};

Caches random_caches(const CopyCase& c, std::mt19937& rng) {
  Caches caches;
  const size_t n = size_t(c.num_blocks) * c.block_size * c.hkv * c.d;
  for (int l = 0; l < c.layers; ++l) {
    Tensor cpu_kv[2], cuda_kv[2];
    for (int which = 0; which < 2; ++which) {
      const std::initializer_list<int64_t> shape{c.num_blocks, c.block_size, c.hkv, c.d};
      GuardedOutput g = guarded_cuda_output(c.dtype, shape);
      if (c.dtype == DType::kF8E4M3) {  // the same codes on both
        const std::vector<uint8_t> codes = random_e4m3_codes(n, rng);
        cpu_kv[which] = e4m3_on(cpu(), codes, shape);
        cuda().copy_from_host(g.tensor, codes.data());
      } else {
        const std::vector<float> values = random_bf16(n, rng);
        cpu_kv[which] = on_cpu(values, shape);
        cuda().copy_from_host(g.tensor, raw(values, c.dtype).data());
      }
      cuda_kv[which] = g.tensor;
      caches.guarded.push_back(std::move(g));
    }
    caches.cpu_layers.push_back({cpu_kv[0], cpu_kv[1]});
    caches.cuda_layers.push_back({cuda_kv[0], cuda_kv[1]});
  }
  return caches;
}

void expect_same_caches(const Caches& caches) {
  for (size_t l = 0; l < caches.cpu_layers.size(); ++l) {
    const KvCacheLayer &got = caches.cuda_layers[l], &want = caches.cpu_layers[l];
    if (got.k.dtype == DType::kF8E4M3) {  // both sides hold e4m3 bytes
      ASSERT_EQ(download_bytes(cuda(), got.k), download_bytes(cpu(), want.k)) << "k, layer " << l;
      ASSERT_EQ(download_bytes(cuda(), got.v), download_bytes(cpu(), want.v)) << "v, layer " << l;
    } else {
      ASSERT_EQ(download(cuda(), got.k), download(cpu(), want.k)) << "k, layer " << l;
      ASSERT_EQ(download(cuda(), got.v), download(cpu(), want.v)) << "v, layer " << l;
    }
  }
  for (const GuardedOutput& g : caches.guarded) expect_guard_intact(g, "copy_blocks cache");
}

class CopyBlocks : public ::testing::TestWithParam<CopyCase> {};

TEST_P(CopyBlocks, MatchesCpuExactlyAndWritesNothingElse) {
  const CopyCase c = GetParam();
  std::mt19937 rng = rng_for_test();
  Caches caches = random_caches(c, rng);
  const std::vector<int32_t> pairs = random_copies(c.num_blocks, c.num_copies, rng);
  cpu().copy_blocks(caches.cpu_layers, i32_on(cpu(), pairs, {c.num_copies, 2}));
  cuda().copy_blocks(caches.cuda_layers, i32_on(cuda(), pairs, {c.num_copies, 2}));
  cuda().synchronize();
  expect_same_caches(caches);
}

std::string case_name(const ::testing::TestParamInfo<CopyCase>& info) {
  const CopyCase& c = info.param;
  return "l" + std::to_string(c.layers) + "_blocks" + std::to_string(c.num_blocks) + "_bs" +
         std::to_string(c.block_size) + "_hkv" + std::to_string(c.hkv) + "_d" + std::to_string(c.d) + "_" +
         std::string(dtype_name(c.dtype)) + "_n" + std::to_string(c.num_copies);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CopyBlocks,
    ::testing::Values(CopyCase{28, 40, 16, 4, 128, DType::kBF16, 9},    // Qwen2.5-7B's block shape: 16-byte words
                      CopyCase{3, 17, 3, 1, 5, DType::kBF16, 5},        // 30-byte blocks: 2-byte words
                      CopyCase{2, 11, 1, 3, 4, DType::kBF16, 4},        // 24-byte blocks: 4-byte words
                      CopyCase{5, 9, 7, 1, 3, DType::kF32, 3},          // F32, 84-byte blocks
                      CopyCase{130, 6, 2, 1, 8, DType::kBF16, 2},       // 260 caches: two launches
                      CopyCase{1, 300, 16, 2, 64, DType::kBF16, 150},   // many pairs
                      CopyCase{4, 2, 16, 2, 64, DType::kBF16, 1},       // the smallest pool that can copy
                      CopyCase{28, 40, 16, 4, 128, DType::kF8E4M3, 9},  // FP8 at 7B's shape: 16-byte words
                      CopyCase{3, 17, 3, 1, 5, DType::kF8E4M3, 5},      // FP8, 15-byte blocks: bytes
                      CopyCase{2, 11, 1, 3, 2, DType::kF8E4M3, 4},      // FP8, 6-byte blocks: 2-byte words
                      CopyCase{2, 11, 2, 1, 2, DType::kF8E4M3, 4}),     // FP8, 4-byte blocks: 4-byte words
    case_name);

TEST(CopyBlocksErrors, APairOutsideTheCacheIsSkippedNotWrittenOutOfBounds) {
  const CopyCase c{2, 8, 4, 2, 16, DType::kBF16, 1};
  std::mt19937 rng = rng_for_test();
  Caches caches = random_caches(c, rng);
  // Only the last pair is valid; the CPU reference runs that one alone.
  const std::vector<int32_t> bad = {c.num_blocks, 1, 0, c.num_blocks, -1, 2, 3, -5, 5, 6};
  cpu().copy_blocks(caches.cpu_layers, i32_on(cpu(), {5, 6}, {1, 2}));
  cuda().copy_blocks(caches.cuda_layers, i32_on(cuda(), bad, {5, 2}));
  cuda().synchronize();
  expect_same_caches(caches);
}

TEST(CopyBlocksErrors, RejectsABadCopyListAndMismatchedLayers) {
  const CopyCase c{2, 8, 4, 2, 16, DType::kBF16, 1};
  std::mt19937 rng = rng_for_test();
  Caches caches = random_caches(c, rng);
  EXPECT_THROW(cuda().copy_blocks(caches.cuda_layers, i32_on(cuda(), {1, 2, 3}, {1, 3})), Error);
  EXPECT_THROW(cuda().copy_blocks(caches.cuda_layers, host_i32({1, 2}, {1, 2})), Error) << "copies on the host";
  std::vector<KvCacheLayer> mixed = caches.cuda_layers;
  mixed[1].v = cuda().alloc(DType::kBF16, {c.num_blocks, c.block_size, c.hkv, c.d + 1});
  EXPECT_THROW(cuda().copy_blocks(mixed, i32_on(cuda(), {1, 2}, {1, 2})), Error);
}

}  // namespace
}  // namespace tern::test
