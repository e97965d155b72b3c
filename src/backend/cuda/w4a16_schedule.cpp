#include "backend/cuda/w4a16_schedule.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "base/error.h"

namespace tern::cuda {
namespace {

constexpr int kTileCols = 64;
constexpr int kSplitTokenTiles = 16;  // a split needs a counter per (row block, token tile)
// Per unit: the epilogue and the pipeline's turn-around; a split unit also publishes its
// partial sums (one GPU-scope release) and the last adds them. Fitted to the K-split sweep
// of backend_ops_bench on an H100 (docs/performance.md, "INT4").
constexpr double kUnitOverheadS = 0.5e-6, kSplitUnitOverheadS = 1.5e-6;

int64_t ceil_div64(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Modelled seconds of the slowest block: its units run one after another, each tile
// bound by its weight bytes or its FLOPs (activations come from L2, counted at a third
// of their bytes), plus a split's partial sums written and read back.
double modelled_seconds(const W4Schedule& s, const W4Device& d) {
  const int tn = s.tile.tokens;
  const double block_bytes_per_s = d.bytes_per_s / d.sms, block_flops_per_s = d.flops_per_s / d.sms;
  const double tile_bytes = kW4BlockRows * kTileCols / 2 + tn * kTileCols * 2 / 3.0;
  const double tile_s = std::max(tile_bytes / block_bytes_per_s, 2.0 * kW4BlockRows * kTileCols * tn / block_flops_per_s);
  double unit_s = s.tiles_per_slice * tile_s + kUnitOverheadS;
  // A split unit writes its F32 partials and the last one reads them all back, at a third
  // of the block's share of the bandwidth (fitted: they are small scattered transfers).
  if (s.slices > 1) unit_s += kSplitUnitOverheadS + 3.0 * 2.0 * kW4BlockRows * tn * 4 / block_bytes_per_s;
  return double(ceil_div64(s.units(), s.grid)) * unit_s;
}

W4Schedule with_slices(W4Schedule s, int tiles_per_slice, const W4Device& d) {
  s.tiles_per_slice = tiles_per_slice;
  s.slices = int(ceil_div64(s.k_tiles, tiles_per_slice));
  s.grid = int(std::min<int64_t>(s.units(), d.sms));
  return s;
}

int forced_slices() {
  const char* v = std::getenv("TERN_W4A16_SLICES");
  return v && *v ? std::atoi(v) : 0;
}

// The best schedule with token tile `tokens` whose split fits `partials_cap` bytes
// (unbounded when negative).
W4Schedule best_schedule(int64_t m, int64_t n, int64_t k, const W4Device& d, double partials_cap, int tokens) {
  TERN_CHECK(m > 0 && n > 0 && k > 0 && n % 16 == 0 && k % kTileCols == 0, "w4a16_schedule: bad shape");
  W4Schedule base;
  base.tile = w4a16_tile_config(tokens);
  base.row_blocks = int(ceil_div64(n, kW4BlockRows));
  base.token_tiles = int(ceil_div64(m, base.tile.tokens));
  base.k_tiles = int(k / kTileCols);
  W4Schedule best = with_slices(base, base.k_tiles, d);
  const bool can_split = base.token_tiles <= kSplitTokenTiles;
  auto fits = [&](const W4Schedule& s) { return partials_cap < 0 || double(s.partials_bytes()) <= partials_cap; };
  // Slices start at a stage boundary: a multiple of the stage's tiles.
  const int kc = base.tile.tiles_per_stage;
  auto stage_multiple = [&](int64_t tiles) { return int(ceil_div64(tiles, kc) * kc); };
  if (const int forced = forced_slices(); forced > 0 && can_split) {
    const W4Schedule s = with_slices(base, stage_multiple(ceil_div64(base.k_tiles, std::min(forced, base.k_tiles))), d);
    return fits(s) ? s : best;
  }
  double best_s = modelled_seconds(best, d);
  for (int tiles = stage_multiple(base.k_tiles) - kc; can_split && tiles >= kc; tiles -= kc) {
    const W4Schedule s = with_slices(base, tiles, d);
    if (s.tiles_per_slice * (s.slices - 1) >= base.k_tiles) continue;  // an empty last slice
    if (!fits(s)) continue;
    const double t = modelled_seconds(s, d);
    if (t < best_s * 0.98) best = s, best_s = t;  // a split must pay for itself clearly
  }
  return best;
}

}  // namespace

void throw_no_tile_config(int tokens) { throw error("w4a16: no tile configuration for ", tokens, " tokens"); }

int w4a16_token_tile(int64_t m) {
  for (int t = 16; t < kW4MaxTokenTile; t *= 2)
    if (m <= t) return t;
  return kW4MaxTokenTile;
}

size_t W4Schedule::partials_bytes() const {
  if (slices <= 1) return 0;
  return size_t(row_blocks) * token_tiles * slices * kW4BlockRows * tile.tokens * sizeof(float);
}

W4Schedule w4a16_schedule(int64_t m, int64_t n, int64_t k, const W4Device& device) {
  if (m <= kW4MaxTokenTile) return best_schedule(m, n, k, device, -1.0, w4a16_token_tile(m));
  // Several token tiles: half-size tiles give twice the units, which can fill the last
  // wave better (a narrow projection over a long prompt).
  const double cap = double(w4a16_partials_bytes(n, k, device));
  const W4Schedule full = best_schedule(m, n, k, device, cap, kW4MaxTokenTile);
  const W4Schedule half = best_schedule(m, n, k, device, cap, kW4MaxTokenTile / 2);
  return modelled_seconds(half, device) < 0.95 * modelled_seconds(full, device) ? half : full;
}

size_t w4a16_partials_bytes(int64_t n, int64_t k, const W4Device& device) {
  size_t most = 0;
  for (int t = 16; t <= kW4MaxTokenTile; t *= 2)
    most = std::max(most, best_schedule(t, n, k, device, -1.0, t).partials_bytes());
  return most;
}

size_t w4a16_counters_bytes(int64_t n) { return size_t(ceil_div64(n, kW4BlockRows)) * kSplitTokenTiles * sizeof(int); }

}  // namespace tern::cuda
