#include "quant/int4_weight.h"

#include <algorithm>
#include <cstring>

#include "base/error.h"

namespace tern {
namespace {

bool same_shape(const Tensor& t, std::initializer_list<int64_t> shape) {
  if (t.ndim != int(shape.size())) return false;
  int i = 0;
  for (int64_t d : shape) {
    if (t.shape[i++] != d) return false;
  }
  return true;
}

void expect_tensor(const Tensor& t, DType dtype, std::initializer_list<int64_t> shape, const char* what,
                   const std::string& context) {
  if (t.device != Device::kCpu || t.dtype != dtype || !same_shape(t, shape)) {
    const Tensor want = make_view(nullptr, dtype, Device::kCpu, shape);
    throw error(context, ": INT4 ", what, " is ", dtype_name(t.dtype), " ", t.shape_str(), ", expected host ",
                dtype_name(dtype), " ", want.shape_str());
  }
}

}  // namespace

Int4Weight make_host_int4(int64_t out_features, int64_t in_features, int64_t group_size) {
  if (out_features < 1 || in_features < 2 || in_features % 2 != 0)
    throw error("INT4 weight of ", out_features, " x ", in_features, ": in_features must be even and positive");
  if (group_size < 1) throw error("INT4 group size ", group_size, " must be positive");
  Int4Weight w;
  w.group_size = std::min(group_size, in_features);
  const int64_t groups = int4_num_groups(in_features, w.group_size);
  w.codes = host_tensor(DType::kU8, {out_features, in_features / 2});
  w.scales = host_tensor(DType::kF32, {out_features, groups});
  w.zeros = host_tensor(DType::kU8, {out_features, groups});
  return w;
}

void set_int4_code(const Int4Weight& w, int64_t n, int64_t k, int code) {
  TERN_CHECK(code >= 0 && code <= kInt4MaxCode, "code ", code);
  uint8_t& byte = w.codes.ptr<uint8_t>()[n * w.codes.dim(1) + k / 2];
  byte = (k & 1) ? uint8_t((byte & 0x0F) | (code << 4)) : uint8_t((byte & 0xF0) | code);
}

void validate_int4(const Int4Weight& w, const std::string& context) {
  if (w.codes.ndim != 2) throw error(context, ": INT4 codes must be 2-D, got ", w.codes.shape_str());
  const int64_t n = w.out_features(), k = w.in_features();
  const bool act_order = !w.group_index.empty();
  if (w.group_size < 1 || (!act_order && w.group_size > k))
    throw error(context, ": INT4 group size ", w.group_size, " is outside [1, ", k, "]");
  if (act_order && (w.scales.ndim != 2 || w.scales.dim(1) < 1))
    throw error(context, ": INT4 scales must be [", n, ", groups], got ", w.scales.shape_str());
  const int64_t groups = act_order ? w.scales.dim(1) : int4_num_groups(k, w.group_size);
  expect_tensor(w.codes, DType::kU8, {n, k / 2}, "codes", context);
  expect_tensor(w.scales, DType::kF32, {n, groups}, "scales", context);
  expect_tensor(w.zeros, DType::kU8, {n, groups}, "zeros", context);
  const uint8_t* zeros = w.zeros.ptr<const uint8_t>();
  for (int64_t i = 0; i < n * groups; ++i) {
    if (zeros[i] > kInt4MaxZero)
      throw error(context, ": INT4 zero point ", int(zeros[i]), " of row ", i / groups, " is above ", kInt4MaxZero);
  }
  if (w.group_index.empty()) return;
  expect_tensor(w.group_index, DType::kI32, {k}, "group_index", context);
  const int32_t* g = w.group_index.ptr<const int32_t>();
  for (int64_t i = 0; i < k; ++i) {
    if (g[i] < 0 || g[i] >= groups)
      throw error(context, ": group index ", g[i], " of input column ", i, " is outside [0, ", groups, ")");
  }
}

void dequantize_int4_row(const Int4Weight& w, int64_t n, float* out) {
  const int64_t k = w.in_features(), groups = w.num_groups();
  const uint8_t* codes = w.codes.ptr<const uint8_t>() + n * (k / 2);
  const float* scales = w.scales.ptr<const float>() + n * groups;
  const uint8_t* zeros = w.zeros.ptr<const uint8_t>() + n * groups;
  auto code = [codes](int64_t i) { return (i & 1) ? codes[i / 2] >> 4 : codes[i / 2] & 0xF; };
  if (!w.group_index.empty()) {
    const int32_t* g = w.group_index.ptr<const int32_t>();
    for (int64_t i = 0; i < k; ++i) out[i] = scales[g[i]] * float(code(i) - zeros[g[i]]);
    return;
  }
  // Contiguous groups: the same per-element product, a group at a time.
  for (int64_t group = 0; group < groups; ++group) {
    const float scale = scales[group];
    const int zero = zeros[group];
    const int64_t end = std::min(k, (group + 1) * w.group_size);
    for (int64_t i = group * w.group_size; i < end; ++i) out[i] = scale * float(code(i) - zero);
  }
}

Tensor dequantize_int4(const Int4Weight& w) {
  Tensor out = host_tensor(DType::kF32, {w.out_features(), w.in_features()});
  for (int64_t n = 0; n < w.out_features(); ++n) dequantize_int4_row(w, n, out.ptr<float>() + n * w.in_features());
  return out;
}

Int4Weight concat_int4_outputs(const std::vector<Int4Weight>& parts, const std::vector<std::string>& names) {
  TERN_CHECK(!parts.empty() && parts.size() == names.size());
  const Int4Weight& first = parts[0];
  int64_t rows = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Int4Weight& p = parts[i];
    if (p.in_features() != first.in_features() || p.group_size != first.group_size)
      throw error(names[i], ": INT4 weight of ", p.in_features(), " inputs in groups of ", p.group_size,
                  " cannot be fused with ", names[0], " (", first.in_features(), " inputs in groups of ",
                  first.group_size, ")");
    const bool same_groups = p.group_index.empty() == first.group_index.empty() &&
                             (p.group_index.empty() ||
                              std::memcmp(p.group_index.data, first.group_index.data, first.group_index.nbytes()) == 0);
    if (!same_groups)
      throw error(names[i], ": its g_idx (act-order groups) differs from ", names[0],
                  "'s; tern fuses layers that share an input and needs one g_idx for all of them");
    rows += p.out_features();
  }
  Int4Weight out = make_host_int4(rows, first.in_features(), first.group_size);
  out.group_index = first.group_index;
  int64_t row = 0;
  for (const Int4Weight& p : parts) {
    const int64_t n = p.out_features();
    std::memcpy(out.codes.ptr<uint8_t>() + row * out.codes.dim(1), p.codes.data, p.codes.nbytes());
    std::memcpy(out.scales.ptr<float>() + row * out.num_groups(), p.scales.data, p.scales.nbytes());
    std::memcpy(out.zeros.ptr<uint8_t>() + row * out.num_groups(), p.zeros.data, p.zeros.nbytes());
    row += n;
  }
  return out;
}

}  // namespace tern
