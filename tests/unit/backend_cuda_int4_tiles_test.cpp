// The CUDA INT4 tile layout (backend/cuda/int4_tiles.h), checked on the host: every weight
// lands in exactly one nibble, act-order columns are sorted into whole groups, the scale
// words carry the F16 scale and the zero point, and, simulating the A fragment of
// wgmma.m64nNk16 (per warp, that of mma.m16n8k16) from its PTX definition with B in the
// activations' own column order, the kernel's per-lane reading of the tiles computes
// exactly x W^T. Runs without a GPU.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "backend/cuda/int4_tiles.h"
#include "base/error.h"
#include "int4_random.h"

namespace tern {
namespace {

using cuda::int4_tile_coord;
using cuda::kInt4TileCols;
using cuda::kInt4TileRows;
using cuda::pack_int4_tiles;
using quant_test::random_int4;

uint32_t lane_word(const Int4Weight& tiles, int64_t row_tile, int64_t col_tile, int lane, int word) {
  const int64_t col_tiles = tiles.in_features() / kInt4TileCols;
  uint32_t bits;
  std::memcpy(&bits, tiles.codes.ptr<const uint8_t>() + ((row_tile * col_tiles + col_tile) * 32 + lane) * 16 + 4 * word,
              4);
  return bits;
}

TEST(Int4Tiles, EveryWeightLandsInExactlyOneNibble) {
  const Int4Weight w = random_int4(32, 128, 32, 1);
  const Int4Weight tiles = pack_int4_tiles(w);
  EXPECT_EQ(tiles.layout, Int4Layout::kMmaTiles);
  EXPECT_EQ(tiles.out_features(), 32);
  EXPECT_EQ(tiles.in_features(), 128);
  std::vector<int> seen(32 * 128, 0);
  for (int64_t rt = 0; rt < 2; ++rt)
    for (int64_t s = 0; s < 2; ++s)
      for (int lane = 0; lane < 32; ++lane)
        for (int word = 0; word < 4; ++word)
          for (int nibble = 0; nibble < 8; ++nibble) {
            const auto at = int4_tile_coord(rt, s, lane, word, nibble);
            ASSERT_LT(at.row, 32);
            ASSERT_LT(at.col, 128);
            ++seen[at.row * 128 + at.col];
            EXPECT_EQ(int((lane_word(tiles, rt, s, lane, word) >> (4 * nibble)) & 0xF), int4_code(w, at.row, at.col));
          }
  for (int count : seen) ASSERT_EQ(count, 1);
}

TEST(Int4Tiles, ScaleWordsHoldTheBf16ScaleAndTheBiasedZeroPoint) {
  const Int4Weight w = random_int4(48, 64, 32, 2, false, 0, 16);
  const Int4Weight tiles = pack_int4_tiles(w);
  ASSERT_EQ(tiles.scales.dtype, DType::kI32);
  EXPECT_TRUE(tiles.zeros.empty());
  for (int64_t row = 0; row < 48; ++row)
    for (int64_t g = 0; g < 2; ++g) {
      const uint32_t word = uint32_t(tiles.scales.ptr<const int32_t>()[((row / 16) * 2 + g) * 16 + row % 16]);
      EXPECT_EQ(bf16_to_f32(uint16_t(word & 0xFFFF)), bf16_to_f32(f32_to_bf16(w.scales.ptr<const float>()[row * 2 + g])));
      EXPECT_EQ(bf16_to_f32(uint16_t(word >> 16)), 128.0f + float(w.zeros.ptr<const uint8_t>()[row * 2 + g]));
    }
}

TEST(Int4Tiles, ActOrderColumnsAreSortedIntoWholeGroups) {
  const Int4Weight w = random_int4(16, 256, 64, 3, /*act_order=*/true);
  const Int4Weight tiles = pack_int4_tiles(w);
  ASSERT_EQ(tiles.group_index.numel(), 256);
  const int32_t* order = tiles.group_index.ptr<const int32_t>();
  const int32_t* groups = w.group_index.ptr<const int32_t>();
  std::vector<int> used(256, 0);
  for (int p = 0; p < 256; ++p) {
    EXPECT_EQ(groups[order[p]], p / 64) << "physical column " << p;
    ++used[order[p]];
  }
  for (int u : used) ASSERT_EQ(u, 1);
  // Physical column p holds the checkpoint's column order[p].
  for (int lane = 0; lane < 32; ++lane) {
    const auto at = int4_tile_coord(0, 1, lane, 3, 5);
    EXPECT_EQ(int((lane_word(tiles, 0, 1, lane, 3) >> 20) & 0xF), int4_code(w, at.row, order[at.col]));
  }
}

TEST(Int4Tiles, InOrderGroupIndexNeedsNoPermutation) {
  Int4Weight w = random_int4(16, 128, 32, 4);
  w.group_index = host_tensor(DType::kI32, {128});
  for (int k = 0; k < 128; ++k) w.group_index.ptr<int32_t>()[k] = k / 32;
  EXPECT_TRUE(pack_int4_tiles(w).group_index.empty());
}

TEST(Int4Tiles, RejectsShapesAndGroupsTheKernelsCannotRead) {
  EXPECT_THROW(pack_int4_tiles(random_int4(24, 128, 32, 5)), Error);   // N % 16
  EXPECT_THROW(pack_int4_tiles(random_int4(16, 96, 32, 5)), Error);    // K % 64
  EXPECT_THROW(pack_int4_tiles(random_int4(16, 128, 48, 5)), Error);   // group size < 32
  EXPECT_THROW(pack_int4_tiles(random_int4(16, 192, 96, 5)), Error);   // not a power of two
  EXPECT_NO_THROW(pack_int4_tiles(random_int4(16, 192, 192, 5)));      // one group per row
  Int4Weight uneven = random_int4(16, 128, 32, 6);
  uneven.group_index = host_tensor(DType::kI32, {128});
  for (int k = 0; k < 128; ++k) uneven.group_index.ptr<int32_t>()[k] = k < 40 ? 0 : 1 + (k - 40) / 32;
  try {
    pack_int4_tiles(uneven);
    FAIL() << "uneven act-order groups were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not 32 columns each"), std::string::npos) << e.what();
  }
}

// mma.m16n8k16 (row.col) as the PTX ISA defines its fragments: lane L = 4 g + t holds
// a0 = A[g][2t, 2t+1], a1 = A[g+8][2t, 2t+1], a2 = A[g][2t+8, +9], a3 = A[g+8][2t+8, +9],
// b0 = B[2t, 2t+1][g], b1 = B[2t+8, +9][g]; d0,d1 = D[g][2t, 2t+1], d2,d3 = D[g+8][...].
struct Fragments {
  float a[32][8];  // per lane: a0.lo a0.hi a1.lo a1.hi a2.lo a2.hi a3.lo a3.hi
  float b[32][4];  // per lane: b0.lo b0.hi b1.lo b1.hi
};
void mma_reference(const Fragments& f, float (&d)[32][4]) {
  float A[16][16], B[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int e = 0; e < 2; ++e) {
      A[g][2 * t + e] = f.a[lane][0 + e];
      A[g + 8][2 * t + e] = f.a[lane][2 + e];
      A[g][2 * t + 8 + e] = f.a[lane][4 + e];
      A[g + 8][2 * t + 8 + e] = f.a[lane][6 + e];
      B[2 * t + e][g] = f.b[lane][e];
      B[2 * t + 8 + e][g] = f.b[lane][2 + e];
    }
  }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int e = 0; e < 4; ++e) {
      const int row = g + 8 * (e / 2), col = 2 * t + e % 2;
      for (int k = 0; k < 16; ++k) d[lane][e] += A[row][k] * B[k][col];
    }
  }
}

TEST(Int4Tiles, TheKernelsFragmentReadingComputesXTimesWTransposed) {
  // One 16-row tile, K = 128 (two tiles of 64 columns), one group, 8 tokens; what
  // w4a16_gemm.cu does per lane (word w of a tile is its k16 step w), in doubles.
  const int64_t n = 16, k = 128, m = 8;
  const Int4Weight w = random_int4(n, k, k, 7);
  const Int4Weight tiles = pack_int4_tiles(w);
  std::mt19937 rng(8);
  std::uniform_int_distribution<int> small(-8, 8);
  std::vector<float> x(size_t(m * k));
  for (float& v : x) v = float(small(rng));
  float d[32][4] = {};
  for (int64_t s = 0; s < k / kInt4TileCols; ++s)
    for (int step = 0; step < 4; ++step) {
      Fragments f{};
      const int64_t col0 = s * kInt4TileCols + 16 * step;
      for (int lane = 0; lane < 32; ++lane) {
        const uint32_t word = lane_word(tiles, 0, s, lane, step);
        const int zero_lo = w.zeros.ptr<const uint8_t>()[lane / 4], zero_hi = w.zeros.ptr<const uint8_t>()[lane / 4 + 8];
        for (int reg = 0; reg < 4; ++reg) {  // register reg holds nibbles reg and reg + 4
          const int zero = reg % 2 ? zero_hi : zero_lo;
          f.a[lane][2 * reg] = float(int((word >> (4 * reg)) & 0xF) - zero);
          f.a[lane][2 * reg + 1] = float(int((word >> (4 * reg + 16)) & 0xF) - zero);
        }
        // B = x^T in natural column order, as the activations sit in shared memory.
        const int g = lane / 4, t = lane % 4;
        for (int e = 0; e < 2; ++e) {
          f.b[lane][e] = x[size_t(g * k + col0 + 2 * t + e)];
          f.b[lane][2 + e] = x[size_t(g * k + col0 + 8 + 2 * t + e)];
        }
      }
      mma_reference(f, d);
    }
  for (int lane = 0; lane < 32; ++lane)
    for (int e = 0; e < 4; ++e) {
      const int row = lane / 4 + 8 * (e / 2), token = 2 * (lane % 4) + e % 2;
      double want = 0;
      for (int64_t c = 0; c < k; ++c)
        want += double(x[size_t(token * k + c)]) * (int4_code(w, row, c) - w.zeros.ptr<const uint8_t>()[row]);
      EXPECT_EQ(double(d[lane][e]), want) << "row " << row << " token " << token;
    }
}

}  // namespace
}  // namespace tern
