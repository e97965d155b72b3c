// How the W4A16 GEMM cuts its work (backend/cuda/w4a16_schedule.h), checked on the host:
// every (row block, token tile, K tile) is one unit's exactly once, a split's partial sums
// and counters fit workspaces sized once per shape whatever m, every pipeline fits in
// shared memory, and the cost model splits K where the work is too little for the GPU.
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "backend/cuda/w4a16_schedule.h"
#include "base/error.h"

namespace tern::cuda {
namespace {

const W4Device kH100{.sms = 132, .bytes_per_s = 2.98e12, .flops_per_s = 6.6e14};

struct Shape {
  int64_t n, k;
};
// Qwen2.5-7B's projections (qkv, o_proj, gate_up, down) and two odd ones.
const std::vector<Shape> kShapes = {{4608, 3584}, {3584, 3584}, {37888, 3584}, {3584, 18944}, {96, 640}, {272, 192}};
const std::vector<int64_t> kRows = {1, 2, 15, 16, 17, 33, 64, 65, 100, 128, 200, 256, 257, 600, 2048, 8192};

TEST(W4A16Schedule, EveryUnitOfWorkIsCoveredOnce) {
  for (const Shape& s : kShapes)
    for (int64_t m : kRows) {
      const W4Schedule p = w4a16_schedule(m, s.n, s.k, kH100);
      SCOPED_TRACE("n=" + std::to_string(s.n) + " k=" + std::to_string(s.k) + " m=" + std::to_string(m));
      EXPECT_EQ(p.row_blocks, (s.n + kW4BlockRows - 1) / kW4BlockRows);
      EXPECT_GE(int64_t(p.token_tiles) * p.tile.tokens, m);
      EXPECT_LT(int64_t(p.token_tiles - 1) * p.tile.tokens, m);
      EXPECT_EQ(p.k_tiles, s.k / 64);
      EXPECT_GE(int64_t(p.slices) * p.tiles_per_slice, p.k_tiles);
      EXPECT_LT(int64_t(p.slices - 1) * p.tiles_per_slice, p.k_tiles) << "an empty last slice";
      if (p.slices > 1) EXPECT_EQ(p.tiles_per_slice % p.tile.tiles_per_stage, 0) << "slices start at stage boundaries";
      EXPECT_GE(p.grid, 1);
      EXPECT_LE(p.grid, kH100.sms);
      EXPECT_LE(p.grid, p.units());
    }
}

TEST(W4A16Schedule, SplitsFitWorkspacesSizedOncePerShape) {
  for (const Shape& s : kShapes) {
    const size_t partials = w4a16_partials_bytes(s.n, s.k, kH100);
    const size_t counters = w4a16_counters_bytes(s.n) / sizeof(int);
    for (int64_t m : kRows) {
      const W4Schedule p = w4a16_schedule(m, s.n, s.k, kH100);
      SCOPED_TRACE("n=" + std::to_string(s.n) + " k=" + std::to_string(s.k) + " m=" + std::to_string(m));
      EXPECT_LE(p.partials_bytes(), partials);
      if (p.slices > 1) EXPECT_LE(size_t(p.row_blocks) * p.token_tiles, counters);
    }
  }
}

TEST(W4A16Schedule, TokenTilesAreTheSmallestThatHoldTheRows) {
  EXPECT_EQ(w4a16_token_tile(1), 16);
  EXPECT_EQ(w4a16_token_tile(16), 16);
  EXPECT_EQ(w4a16_token_tile(17), 32);
  EXPECT_EQ(w4a16_token_tile(64), 64);
  EXPECT_EQ(w4a16_token_tile(129), 256);
  EXPECT_EQ(w4a16_token_tile(5000), 256);
  EXPECT_THROW(w4a16_tile_config(8), Error);
}

TEST(W4A16Schedule, EveryPipelineFitsInSharedMemory) {
  constexpr size_t kSharedPerBlock = 227 * 1024;  // sm_90's opt-in limit per block
  for (int tokens : {16, 32, 64, 128, 256}) {
    const W4TileConfig c = w4a16_tile_config(tokens);
    EXPECT_LE(w4a16_shared_bytes(c), kSharedPerBlock) << tokens << " tokens";
    EXPECT_EQ(w4a16_stage_bytes(c) % 1024, 0u) << "stages must keep the 1024-byte alignment of the swizzle";
    EXPECT_LE(c.stages, 8) << "the kernel's barrier arrays";
    EXPECT_GE(c.stages, 4);
  }
}

TEST(W4A16Schedule, DecodeOnFewRowBlocksSplitsKAndPrefillDoesNot) {
  // o_proj at batch 1: 28 row blocks for 132 SMs, so K is split.
  const W4Schedule decode = w4a16_schedule(1, 3584, 3584, kH100);
  EXPECT_GT(decode.slices, 1);
  EXPECT_GT(decode.units(), 100);
  // gate_up over a 2048-token prompt: 296 x 8 units already fill the GPU.
  const W4Schedule prefill = w4a16_schedule(2048, 37888, 3584, kH100);
  EXPECT_EQ(prefill.slices, 1);
  EXPECT_EQ(prefill.tile.tokens, 256);
}

TEST(W4A16Schedule, ForcedSlicesApplyWhereTheyFit) {
  setenv("TERN_W4A16_SLICES", "4", 1);
  const W4Schedule p = w4a16_schedule(16, 37888, 3584, kH100);
  unsetenv("TERN_W4A16_SLICES");
  EXPECT_EQ(p.slices, 4);
  EXPECT_EQ(p.tiles_per_slice, 16);  // 56 tiles in 4 slices, rounded up to whole stages of 4
}

}  // namespace
}  // namespace tern::cuda
