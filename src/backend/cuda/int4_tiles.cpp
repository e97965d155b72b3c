#include "backend/cuda/int4_tiles.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "base/error.h"
#include "base/thread_pool.h"
#include "tensor/dtype.h"

namespace tern::cuda {
namespace {

// The order that sorts the columns by group (stable), or empty when they already are.
// Throws unless every group is then group_size contiguous columns, as GPTQ's act-order
// produces (g_idx[k] = position of k in the act order / group_size).
std::vector<int32_t> group_order(const Int4Weight& w) {
  if (w.group_index.empty()) return {};
  const int64_t k = w.in_features();
  const int32_t* g = w.group_index.ptr<const int32_t>();
  std::vector<int32_t> order(static_cast<size_t>(k));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return g[a] < g[b]; });
  for (int64_t p = 0; p < k; ++p)
    if (g[order[p]] != p / w.group_size)
      throw error("INT4 weight [", w.out_features(), ", ", k, "]: its act-order groups (g_idx) are not ", w.group_size,
                  " columns each, which the CUDA kernels need (sorted column ", p, " is in group ", g[order[p]], ")");
  bool identity = true;
  for (int64_t p = 0; p < k && identity; ++p) identity = order[p] == p;
  if (identity) order.clear();
  return order;
}

}  // namespace

Int4TileCoord int4_tile_coord(int64_t row_tile, int64_t col_tile, int lane, int word, int nibble) {
  return {.row = row_tile * kInt4TileRows + lane / 4 + 8 * (nibble % 2),
          .col = col_tile * kInt4TileCols + 16 * word + 2 * (lane % 4) + 8 * ((nibble / 2) % 2) + nibble / 4};
}

Int4Weight pack_int4_tiles(const Int4Weight& host) {
  TERN_CHECK(host.layout == Int4Layout::kRowMajor && host.codes.device == Device::kCpu,
             "pack_int4_tiles takes a host weight in the row-major layout");
  const int64_t n = host.out_features(), k = host.in_features(), groups = host.num_groups();
  if (n % kInt4TileRows != 0 || k % kInt4TileCols != 0)
    throw error("INT4 weight [", n, ", ", k, "]: the CUDA INT4 kernels need out_features % ", kInt4TileRows,
                " == 0 and in_features % ", kInt4TileCols, " == 0 (use --backend cpu for this model)");
  const bool power_of_two = (host.group_size & (host.group_size - 1)) == 0;
  if (groups != 1 && (host.group_size < 32 || !power_of_two))
    throw error("INT4 weight [", n, ", ", k, "]: group size ", host.group_size,
                " is not a power of two >= 32, which the CUDA INT4 kernels need (use --backend cpu for this model)");
  const std::vector<int32_t> order = group_order(host);

  Int4Weight out;
  out.layout = Int4Layout::kMmaTiles;
  out.group_size = host.group_size;
  out.codes = host_tensor(DType::kU8, {n, k / 2});
  out.scales = host_tensor(DType::kI32, {n, groups});
  if (!order.empty()) {
    out.group_index = host_tensor(DType::kI32, {k});
    std::memcpy(out.group_index.data, order.data(), size_t(k) * sizeof(int32_t));
  }

  uint8_t* tiles = out.codes.ptr<uint8_t>();
  const int64_t col_tiles = k / kInt4TileCols;
  // A 7B model has 6.5 G codes to place: spread the row tiles over the cores.
  ThreadPool::global().parallel_for(n / kInt4TileRows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t rt = begin; rt < end; ++rt)
      for (int64_t s = 0; s < col_tiles; ++s)
        for (int lane = 0; lane < 32; ++lane)
          for (int word = 0; word < 4; ++word) {
            uint32_t bits = 0;
            for (int nibble = 0; nibble < 8; ++nibble) {
              const Int4TileCoord at = int4_tile_coord(rt, s, lane, word, nibble);
              const int64_t source_col = order.empty() ? at.col : order[size_t(at.col)];
              bits |= uint32_t(int4_code(host, at.row, source_col)) << (4 * nibble);
            }
            std::memcpy(tiles + ((rt * col_tiles + s) * 32 + lane) * 16 + word * 4, &bits, 4);
          }
  });

  const float* scales = host.scales.ptr<const float>();
  const uint8_t* zeros = host.zeros.ptr<const uint8_t>();
  int32_t* words = out.scales.ptr<int32_t>();
  for (int64_t row = 0; row < n; ++row)
    for (int64_t g = 0; g < groups; ++g) {
      const uint32_t word = uint32_t(f32_to_bf16(scales[row * groups + g])) |
                            uint32_t(f32_to_bf16(128.0f + float(zeros[row * groups + g]))) << 16;
      words[((row / kInt4TileRows) * groups + g) * kInt4TileRows + row % kInt4TileRows] = int32_t(word);
    }
  return out;
}

}  // namespace tern::cuda
