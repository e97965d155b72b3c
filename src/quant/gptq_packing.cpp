// GPTQ <-> Int4Weight. qweight packs eight codes along K, low bits first, which is also
// the order of tern's codes within a row (even k in the low nibble, little-endian bytes):
// word (r, n) of qweight is bytes [4r, 4r + 4) of row n of the codes, so converting is a
// transpose of 32-bit words.
#include <cstring>

#include "base/error.h"
#include "quant/packed_linear.h"

namespace tern {
namespace {

constexpr const char* kQweightLayout = "GPTQ qweight is [in_features / 8, out_features] int32";
constexpr const char* kQzerosLayout = "GPTQ qzeros is [groups, out_features / 8] int32";
constexpr const char* kScalesLayout = "GPTQ scales is [groups, out_features] float16";
constexpr const char* kGidxLayout = "g_idx is [in_features] int32";

// Reads g_idx (I32 or I64) into weight.group_index, or leaves it empty when it only
// restates the plain k / group_size grouping.
void unpack_g_idx(const PackedLinear& p, Int4Weight& w) {
  const int64_t k = w.in_features();
  if (p.g_idx.dtype != DType::kI64)
    expect_packed_tensor(p, p.g_idx, "g_idx", DType::kI32, {k}, kGidxLayout);
  else
    expect_packed_tensor(p, p.g_idx, "g_idx", DType::kI64, {k}, kGidxLayout);
  Tensor index = host_tensor(DType::kI32, {k});
  bool plain = true;
  for (int64_t i = 0; i < k; ++i) {
    const int64_t g = p.g_idx.dtype == DType::kI64 ? p.g_idx.ptr<const int64_t>()[i] : p.g_idx.ptr<const int32_t>()[i];
    if (g < 0 || g >= w.num_groups())
      throw error(p.source, ": tensor '", p.name, ".g_idx': group ", g, " of input column ", i, " is outside [0, ",
                  w.num_groups(), ")");
    index.ptr<int32_t>()[i] = int32_t(g);
    plain = plain && g == i / w.group_size;
  }
  if (!plain) w.group_index = index;
}

}  // namespace

Int4Weight unpack_gptq(const PackedLinear& p, const QuantizationConfig& config, int64_t out_features,
                       int64_t in_features) {
  const int64_t n = out_features, k = in_features;
  if (k % 8 != 0 || n % 8 != 0)
    throw error(p.source, ": ", p.name, ": GPTQ packs 8 values per int32, so ", k, " inputs and ", n,
                " outputs must both be multiples of 8");
  Int4Weight w = make_host_int4(n, k, config.group_size_for(k));
  const int64_t groups = w.num_groups();
  expect_packed_tensor(p, p.qweight, "qweight", DType::kI32, {k / 8, n}, kQweightLayout);
  expect_packed_tensor(p, p.qzeros, "qzeros", DType::kI32, {groups, n / 8}, kQzerosLayout);
  expect_packed_tensor(p, p.scales, "scales", DType::kF16, {groups, n}, kScalesLayout);
  if (!p.g_idx.empty())
    unpack_g_idx(p, w);
  else if (config.desc_act)
    throw error(p.source, ": ", p.name, ": tensor '", p.name, ".g_idx' is missing but desc_act is true");

  const uint32_t* qweight = p.qweight.ptr<const uint32_t>();
  uint8_t* codes = w.codes.ptr<uint8_t>();
  for (int64_t r = 0; r < k / 8; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      const uint32_t word = qweight[r * n + j];
      for (int b = 0; b < 4; ++b) codes[j * (k / 2) + 4 * r + b] = uint8_t(word >> (8 * b));
    }
  }
  const int offset = config.gptq_format == GptqFormat::kV1 ? 1 : 0;
  const uint32_t* qzeros = p.qzeros.ptr<const uint32_t>();
  uint8_t* zeros = w.zeros.ptr<uint8_t>();
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t j = 0; j < n; ++j) {
      const uint32_t word = qzeros[g * (n / 8) + j / 8];
      zeros[j * groups + g] = uint8_t(((word >> (4 * (j % 8))) & 0xF) + offset);
    }
  }
  unpack_scales(p, w);
  return w;
}

PackedLinear pack_gptq(const Int4Weight& w, GptqFormat format) {
  const int64_t n = w.out_features(), k = w.in_features(), groups = w.num_groups();
  if (k % 8 != 0 || n % 8 != 0)
    throw error("GPTQ packs 8 values per int32: ", k, " inputs and ", n, " outputs must both be multiples of 8");
  PackedLinear p;
  p.qweight = host_tensor(DType::kI32, {k / 8, n});
  const uint8_t* codes = w.codes.ptr<const uint8_t>();
  uint32_t* qweight = p.qweight.ptr<uint32_t>();
  for (int64_t r = 0; r < k / 8; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      uint32_t word = 0;
      for (int b = 0; b < 4; ++b) word |= uint32_t(codes[j * (k / 2) + 4 * r + b]) << (8 * b);
      qweight[r * n + j] = word;
    }
  }
  const int offset = format == GptqFormat::kV1 ? 1 : 0;
  p.qzeros = host_tensor(DType::kI32, {groups, n / 8});
  std::memset(p.qzeros.data, 0, p.qzeros.nbytes());
  uint32_t* qzeros = p.qzeros.ptr<uint32_t>();
  p.scales = host_tensor(DType::kF16, {groups, n});
  uint16_t* scales = p.scales.ptr<uint16_t>();
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t g = 0; g < groups; ++g) {
      const int stored = w.zeros.ptr<const uint8_t>()[j * groups + g] - offset;
      if (stored < 0 || stored > kInt4MaxCode)
        throw error("zero point ", stored + offset, " of output ", j, " cannot be stored in GPTQ ",
                    format == GptqFormat::kV1 ? "v1 (zero - 1 in 4 bits: 1..16)" : "v2 (0..15)");
      qzeros[g * (n / 8) + j / 8] |= uint32_t(stored) << (4 * (j % 8));
      scales[g * n + j] = f32_to_f16(w.scales.ptr<const float>()[j * groups + g]);
    }
  }
  p.g_idx = host_tensor(DType::kI32, {k});
  for (int64_t i = 0; i < k; ++i)
    p.g_idx.ptr<int32_t>()[i] = w.group_index.empty() ? int32_t(i / w.group_size) : w.group_index.ptr<int32_t>()[i];
  return p;
}

}  // namespace tern
