// How the W4A16 GEMM (w4a16_gemm.cuh) cuts a problem into work for its persistent blocks.
// Host-only arithmetic, so the CPU tests check it.
//
// A block owns 128 weight rows (two warpgroups of 64) of one token tile (16 to 256 tokens)
// over one K slice; a unit of work is (row block, token tile, K slice). Each token tile
// size has its own pipeline shape (tiles of 64 columns per stage, stages), chosen so that
// a block's shared memory (one block per SM) keeps >= 100 KB of weights in flight at small
// batches and room for the activations at large ones.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tern::cuda {

inline constexpr int kW4BlockRows = 128;    // weight rows per block
inline constexpr int kW4MaxTokenTile = 256;  // tokens per tile at most (a TMA box dimension)

[[noreturn]] void throw_no_tile_config(int tokens);

struct W4TileConfig {
  int tokens = 16;          // the token tile: 16, 32, 64, 128 or 256
  int tiles_per_stage = 1;  // 64-column tiles per pipeline stage
  int stages = 1;
};

// The configuration for a token tile size (one of the five above; others throw).
constexpr W4TileConfig w4a16_tile_config(int tokens) {
  switch (tokens) {
    case 16:
      return {.tokens = 16, .tiles_per_stage = 4, .stages = 7};
    case 32:
      return {.tokens = 32, .tiles_per_stage = 4, .stages = 6};
    case 64:
      return {.tokens = 64, .tiles_per_stage = 2, .stages = 8};
    case 128:
      return {.tokens = 128, .tiles_per_stage = 1, .stages = 8};
    case 256:
      return {.tokens = 256, .tiles_per_stage = 1, .stages = 5};
    default:
      throw_no_tile_config(tokens);
  }
}
// The token tile for m rows: the smallest that holds them (16 at least: the kernel needs
// two wgmma instructions per k16 step, and n = 8 is the smallest), 256 beyond.
int w4a16_token_tile(int64_t m);
// Shared memory of one stage: activations [tiles][tokens][128 B], weights [8 row tiles]
// [tiles][512 B], scale words [8 row tiles][2 tiles groups][64 B]; and of a whole block
// (stages + 1 KiB to align the first stage to 1024 bytes, as the 128-byte swizzle needs).
constexpr size_t w4a16_stage_bytes(const W4TileConfig& c) {
  return size_t(c.tiles_per_stage) * (size_t(c.tokens) * 128 + 8 * 512 + 8 * 2 * 64);
}
constexpr size_t w4a16_shared_bytes(const W4TileConfig& c) { return size_t(c.stages) * w4a16_stage_bytes(c) + 1024; }

// What the schedule's cost model knows of the GPU.
struct W4Device {
  int sms = 132;
  double bytes_per_s = 3.0e12;   // device memory
  double flops_per_s = 6.6e14;   // BF16 tensor cores, dense
};

struct W4Schedule {
  W4TileConfig tile;
  int row_blocks = 0, token_tiles = 0, k_tiles = 0;
  int slices = 1, tiles_per_slice = 0;  // K split: slices * tiles_per_slice >= k_tiles, a multiple of the stage's tiles
  int grid = 0;                         // persistent blocks
  int64_t units() const { return int64_t(row_blocks) * token_tiles * slices; }
  // F32 partial sums a split schedule writes (0 without a split).
  size_t partials_bytes() const;
};

// The schedule for out[m, n] = x[m, k] W^T (n % 16 == 0, k % 64 == 0): the token tile for
// m (past 256 tokens, 256 or 128, whichever the model prefers), then the K split that
// minimises the modelled time (waves of units, each unit's weight bytes or FLOPs and
// fixed cost, plus the partial sums a split writes and reads). The split is bounded so
// that its partial sums fit w4a16_partials_bytes(n, k) and its counters
// w4a16_counters_bytes(n): workspaces sized once per shape, whatever m.
// TERN_W4A16_SLICES=<s> forces s slices where they fit (for tuning runs).
W4Schedule w4a16_schedule(int64_t m, int64_t n, int64_t k, const W4Device& device);
size_t w4a16_partials_bytes(int64_t n, int64_t k, const W4Device& device);
size_t w4a16_counters_bytes(int64_t n);

}  // namespace tern::cuda
