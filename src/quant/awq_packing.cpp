// AWQ (AutoAWQ GEMM) -> Int4Weight. AWQ packs along the output dimension and interleaves
// the eight columns of a word as [0, 2, 4, 6, 1, 3, 5, 7] (an order that suits its
// kernel's dequantisation), so column j of a group of eight sits at position
// kAwqPosition[j].
#include "base/error.h"
#include "quant/packed_linear.h"

namespace tern {
namespace {

constexpr int kAwqPosition[8] = {0, 4, 1, 5, 2, 6, 3, 7};
constexpr const char* kQweightLayout = "AWQ qweight is [in_features, out_features / 8] int32";
constexpr const char* kQzerosLayout = "AWQ qzeros is [groups, out_features / 8] int32";
constexpr const char* kScalesLayout = "AWQ scales is [groups, out_features] float16";

uint8_t awq_value(uint32_t word, int64_t column) { return uint8_t((word >> (4 * kAwqPosition[column % 8])) & 0xF); }

}  // namespace

Int4Weight unpack_awq(const PackedLinear& p, const QuantizationConfig& config, int64_t out_features,
                      int64_t in_features) {
  const int64_t n = out_features, k = in_features;
  if (n % 8 != 0 || k % 2 != 0)
    throw error(p.source, ": ", p.name, ": AWQ packs 8 outputs per int32, so ", n,
                " outputs must be a multiple of 8 (and ", k, " inputs even)");
  Int4Weight w = make_host_int4(n, k, config.group_size_for(k));
  const int64_t groups = w.num_groups(), words = n / 8;
  expect_packed_tensor(p, p.qweight, "qweight", DType::kI32, {k, words}, kQweightLayout);
  expect_packed_tensor(p, p.qzeros, "qzeros", DType::kI32, {groups, words}, kQzerosLayout);
  expect_packed_tensor(p, p.scales, "scales", DType::kF16, {groups, n}, kScalesLayout);
  if (!p.g_idx.empty()) throw error(p.source, ": ", p.name, ": AWQ checkpoints have no g_idx, but this one does");

  const uint32_t* qweight = p.qweight.ptr<const uint32_t>();
  uint8_t* codes = w.codes.ptr<uint8_t>();
  // Two input rows at a time fill one byte of every output row.
  for (int64_t i = 0; i < k; i += 2) {
    for (int64_t c = 0; c < words; ++c) {
      const uint32_t even = qweight[i * words + c], odd = qweight[(i + 1) * words + c];
      for (int64_t j = 8 * c; j < 8 * c + 8; ++j)
        codes[j * (k / 2) + i / 2] = uint8_t(awq_value(even, j) | awq_value(odd, j) << 4);
    }
  }
  const uint32_t* qzeros = p.qzeros.ptr<const uint32_t>();
  uint8_t* zeros = w.zeros.ptr<uint8_t>();
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t j = 0; j < n; ++j) zeros[j * groups + g] = awq_value(qzeros[g * words + j / 8], j);
  }
  unpack_scales(p, w);
  return w;
}

}  // namespace tern
