#include "quant/fp8_weight.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/error.h"
#include "tensor/convert.h"
#include "tensor/host_slices.h"

namespace tern {
namespace {

constexpr float kMinAmax = 1e-12f;  // keeps an all-zero row's scale positive

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// One e4m3 value for x / scale, clamped to the representable range first.
uint8_t quantize_e4m3(float x, float scale) { return f32_to_e4m3(std::clamp(x / scale, -kE4m3Max, kE4m3Max)); }

// The scale of dynamic quantisation for n values: max(amax, 1e-12) / 448.
float dynamic_scale(const float* x, int64_t n) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  return std::max(amax, kMinAmax) / kE4m3Max;
}

std::string shape_of(std::initializer_list<int64_t> shape) {
  return make_view(nullptr, DType::kF32, Device::kCpu, shape).shape_str();
}

// Copies rows of several host tensors of equal columns into one.
Tensor stack_rows(const std::vector<Tensor>& parts, DType dtype, int64_t cols) {
  int64_t rows = 0;
  for (const Tensor& p : parts) rows += p.numel() / cols;
  Tensor out = cols == 1 && parts[0].ndim == 1 ? host_tensor(dtype, {rows}) : host_tensor(dtype, {rows, cols});
  char* dst = static_cast<char*>(out.data);
  for (const Tensor& p : parts) {
    std::memcpy(dst, p.data, p.nbytes());
    dst += p.nbytes();
  }
  return out;
}

}  // namespace

void validate_fp8(const Fp8Weight& w, const std::string& context) {
  if (w.values.device != Device::kCpu || w.values.dtype != DType::kF8E4M3 || w.values.ndim != 2)
    throw error(context, ": FP8 values are ", dtype_name(w.values.dtype), " ", w.values.shape_str(),
                ", expected a host F8_E4M3 [out_features, in_features] matrix");
  const int64_t n = w.out_features(), k = w.in_features();
  if ((w.block_rows > 0) != (w.block_cols > 0) || w.block_rows < 0 || w.block_cols < 0)
    throw error(context, ": FP8 block shape [", w.block_rows, ", ", w.block_cols, "] must be two positive sizes");
  const std::string want = w.block_scaled() ? shape_of({ceil_div(n, w.block_rows), ceil_div(k, w.block_cols)})
                                            : shape_of({n});
  if (w.scales.device != Device::kCpu || w.scales.dtype != DType::kF32 || w.scales.shape_str() != want)
    throw error(context, ": FP8 weight scales are ", dtype_name(w.scales.dtype), " ", w.scales.shape_str(),
                ", expected host F32 ", want, w.block_scaled() ? " (one per block)" : " (one per output row)");
  const float* s = w.scales.ptr<const float>();
  for (int64_t i = 0; i < w.scales.numel(); ++i) {
    if (!(std::isfinite(s[i]) && s[i] > 0.0f))
      throw error(context, ": FP8 weight scale ", i, " is ", s[i], "; scales must be finite and positive");
  }
  switch (w.activations) {
    case Fp8Activations::kPerToken:
      break;
    case Fp8Activations::kPerTokenGroup:
      if (w.activation_group < 1)
        throw error(context, ": FP8 per-token-group activations need a positive group size, got ",
                    w.activation_group);
      break;
    case Fp8Activations::kStatic:
      if (!(std::isfinite(w.input_scale) && w.input_scale > 0.0f))
        throw error(context, ": FP8 static input scale is ", w.input_scale, "; it must be finite and positive");
      break;
  }
}

float fp8_weight_scale(const Fp8Weight& w, int64_t n, int64_t k) {
  const float* s = w.scales.ptr<const float>();
  if (!w.block_scaled()) return s[n];
  return s[(n / w.block_rows) * w.scales.dim(1) + k / w.block_cols];
}

void dequantize_fp8_row(const Fp8Weight& w, int64_t n, float* out) {
  const int64_t k = w.in_features();
  const uint8_t* v = w.values.ptr<const uint8_t>() + n * k;
  for (int64_t i = 0; i < k; ++i) out[i] = e4m3_to_f32(v[i]) * fp8_weight_scale(w, n, i);
}

Tensor dequantize_fp8(const Fp8Weight& w) {
  Tensor out = host_tensor(DType::kF32, {w.out_features(), w.in_features()});
  for (int64_t n = 0; n < w.out_features(); ++n) dequantize_fp8_row(w, n, out.ptr<float>() + n * w.in_features());
  return out;
}

void fake_quantize_fp8_activations(const Fp8Weight& w, const float* x, float* out) {
  const int64_t k = w.in_features();
  const int64_t group = w.activations == Fp8Activations::kPerTokenGroup ? w.activation_group : k;
  for (int64_t begin = 0; begin < k; begin += group) {
    const int64_t len = std::min(group, k - begin);
    const float s = w.activations == Fp8Activations::kStatic ? w.input_scale : dynamic_scale(x + begin, len);
    for (int64_t i = begin; i < begin + len; ++i) out[i] = e4m3_to_f32(quantize_e4m3(x[i], s)) * s;
  }
}

Fp8Weight quantize_fp8(const Tensor& weight, int64_t block_rows, int64_t block_cols) {
  TERN_CHECK(weight.device == Device::kCpu && weight.ndim == 2, "FP8 quantisation of ", weight.shape_str());
  TERN_CHECK(block_rows >= 0 && block_cols >= 0 && (block_rows > 0) == (block_cols > 0), "FP8 block [", block_rows,
             ", ", block_cols, "]");
  const int64_t n = weight.dim(0), k = weight.dim(1);
  const Tensor dense = convert_host(weight, DType::kF32);
  const float* w = dense.ptr<const float>();
  Fp8Weight out;
  const bool blocks = block_rows > 0;
  out.block_rows = block_rows;
  out.block_cols = block_cols;
  const int64_t bn = blocks ? block_rows : 1, bk = blocks ? block_cols : k;
  const int64_t rows = ceil_div(n, bn), cols = ceil_div(k, bk);
  out.values = host_tensor(DType::kF8E4M3, {n, k});
  out.scales = blocks ? host_tensor(DType::kF32, {rows, cols}) : host_tensor(DType::kF32, {n});
  if (blocks) {
    out.activations = Fp8Activations::kPerTokenGroup;
    out.activation_group = block_cols;
  }
  for (int64_t br = 0; br < rows; ++br) {
    for (int64_t bc = 0; bc < cols; ++bc) {
      const int64_t r0 = br * bn, r1 = std::min(n, r0 + bn), c0 = bc * bk, c1 = std::min(k, c0 + bk);
      float amax = 0.0f;
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) amax = std::max(amax, std::fabs(w[r * k + c]));
      const float s = std::max(amax, kMinAmax) / kE4m3Max;
      out.scales.ptr<float>()[br * cols + bc] = s;
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) out.values.ptr<uint8_t>()[r * k + c] = quantize_e4m3(w[r * k + c], s);
    }
  }
  return out;
}

Fp8Weight concat_fp8_outputs(const std::vector<Fp8Weight>& parts, const std::vector<std::string>& names) {
  TERN_CHECK(!parts.empty() && parts.size() == names.size(), "concat_fp8_outputs of ", parts.size(), " parts");
  const Fp8Weight& first = parts[0];
  if (parts.size() == 1) return first;
  Fp8Weight out = first;
  std::vector<Tensor> values, scales;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Fp8Weight& p = parts[i];
    const auto fail = [&](const auto&... why) {
      throw error(names[i], " cannot be fused with ", names[0], ": ", why...);
    };
    if (p.in_features() != first.in_features())
      fail("it has ", p.in_features(), " inputs, not ", first.in_features());
    if (p.activations != first.activations || p.activation_group != first.activation_group)
      fail("the two use different FP8 activation schemes");
    if (p.block_rows != first.block_rows || p.block_cols != first.block_cols)
      fail("their FP8 weight scales have different block shapes");
    if (p.block_scaled() && i + 1 < parts.size() && p.out_features() % p.block_rows != 0)
      fail(names[i], " has ", p.out_features(), " rows, not a multiple of the scale block's ", p.block_rows);
    out.input_scale = std::max(out.input_scale, p.input_scale);
    values.push_back(p.values);
    scales.push_back(p.scales);
  }
  out.values = stack_rows(values, DType::kF8E4M3, first.in_features());
  out.scales = stack_rows(scales, DType::kF32, first.block_scaled() ? first.scales.dim(1) : 1);
  return out;
}

Fp8Weight slice_fp8_outputs(const Fp8Weight& w, int64_t begin, int64_t end, const std::string& context) {
  TERN_CHECK(0 <= begin && begin < end && end <= w.out_features(), "output rows [", begin, ", ", end, ") of ",
             w.out_features());
  Fp8Weight out = w;
  out.values = w.values.slice_rows(begin, end);
  if (!w.block_scaled()) {
    out.scales = w.scales.slice_rows(begin, end);
    return out;
  }
  if (begin % w.block_rows != 0 || (end % w.block_rows != 0 && end != w.out_features()))
    throw error(context, ": output rows [", begin, ", ", end, ") of ", w.out_features(),
                " do not fall on the FP8 scale blocks of ", w.block_rows,
                " rows (choose a tensor-parallel size whose share of the rows is a multiple of ", w.block_rows, ")");
  out.scales = w.scales.slice_rows(begin / w.block_rows, ceil_div(end, w.block_rows));
  return out;
}

Fp8Weight slice_fp8_inputs(const Fp8Weight& w, int64_t begin, int64_t end, const std::string& context) {
  const int64_t k = w.in_features();
  TERN_CHECK(0 <= begin && begin < end && end <= k, "input columns [", begin, ", ", end, ") of ", k);
  for (int64_t size : {w.block_cols, w.activations == Fp8Activations::kPerTokenGroup ? w.activation_group : 0}) {
    if (size > 0 && (begin % size != 0 || (end % size != 0 && end != k)))
      throw error(context, ": input columns [", begin, ", ", end, ") of ", k, " do not fall on the FP8 groups of ",
                  size, " columns (choose a tensor-parallel size whose share of the inputs is a multiple of ", size,
                  ")");
  }
  Fp8Weight out = w;
  out.values = copy_columns(w.values, begin, end);
  if (w.block_scaled()) out.scales = copy_columns(w.scales, begin / w.block_cols, ceil_div(end, w.block_cols));
  return out;
}

Fp8Weight pad_fp8_outputs(const Fp8Weight& w, int64_t rows) {
  const int64_t n = w.out_features(), k = w.in_features();
  TERN_CHECK(rows >= n, "padding ", n, " FP8 rows to ", rows);
  if (rows == n) return w;
  Fp8Weight out = w;
  out.values = copy_rows_padded(w.values, 0, n, rows);
  const int64_t scale_rows = w.block_scaled() ? ceil_div(rows, w.block_rows) : rows;
  const int64_t have = w.scales.ndim == 1 ? w.scales.numel() : w.scales.dim(0);
  out.scales = copy_rows_padded(w.scales, 0, have, scale_rows);
  float* s = out.scales.ptr<float>();
  const int64_t cols = w.block_scaled() ? w.scales.dim(1) : 1;
  for (int64_t i = have * cols; i < scale_rows * cols; ++i) s[i] = 1.0f;
  return out;
}

}  // namespace tern
