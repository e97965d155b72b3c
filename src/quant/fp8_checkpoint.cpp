#include "quant/fp8_checkpoint.h"

#include <vector>

#include "base/error.h"
#include "tensor/convert.h"

namespace tern {
namespace {


// Whether t has `count` elements in one of the given shapes ({} is a scalar).
bool has_shape(const Tensor& t, std::initializer_list<std::initializer_list<int64_t>> shapes) {
  for (const auto& shape : shapes) {
    if (t.ndim != int(shape.size())) continue;
    bool same = true;
    int i = 0;
    for (int64_t d : shape) same = same && t.shape[i++] == d;
    if (same) return true;
  }
  return false;
}

// A scale tensor of any float dtype as F32 values, in the order stored.
std::vector<float> read_scales(const Fp8Tensors& t, const Tensor& scale, const std::string& suffix) {
  if (!is_float_dtype(scale.dtype))
    throw error(t.source, ": tensor '", t.name, suffix, "': dtype ", dtype_name(scale.dtype),
                " where FP8 scales are F32, BF16 or F16");
  std::vector<float> values(size_t(scale.numel()));
  read_as_f32(scale, 0, scale.numel(), values.data());
  return values;
}

}  // namespace

Fp8Weight read_fp8_linear(const Fp8Tensors& t, const Fp8Config& config, int64_t n, int64_t k) {
  const auto fail = [&](const std::string& suffix, const auto&... what) {
    throw error(t.source, ": tensor '", t.name, suffix, "': ", what...);
  };
  if (t.weight.dtype != DType::kF8E4M3)
    fail(".weight", "dtype ", dtype_name(t.weight.dtype), " but the FP8 quantization_config needs F8_E4M3");
  if (!has_shape(t.weight, {{n, k}}))
    fail(".weight", "shape ", t.weight.shape_str(), " but config.json implies [", n, ", ", k, "]");

  Fp8Weight w;
  w.values = t.weight;
  const std::vector<float> scales = read_scales(t, t.weight_scale, config.scale_suffix);
  switch (config.weight_scales) {
    case Fp8Config::WeightScales::kTensor:
      if (!has_shape(t.weight_scale, {{}, {1}}))
        fail(config.scale_suffix, "shape ", t.weight_scale.shape_str(), " but a per-tensor scale is [] or [1]");
      w.scales = host_tensor(DType::kF32, {n});
      for (int64_t i = 0; i < n; ++i) w.scales.ptr<float>()[i] = scales[0];
      break;
    case Fp8Config::WeightScales::kChannel:
      if (!has_shape(t.weight_scale, {{n}, {n, 1}}))
        fail(config.scale_suffix, "shape ", t.weight_scale.shape_str(), " but per-channel scales are [", n, "] or [",
             n, ", 1]");
      w.scales = host_tensor(DType::kF32, {n});
      std::copy(scales.begin(), scales.end(), w.scales.ptr<float>());
      break;
    case Fp8Config::WeightScales::kBlock: {
      w.block_rows = config.block_rows;
      w.block_cols = config.block_cols;
      const int64_t rows = (n + w.block_rows - 1) / w.block_rows, cols = (k + w.block_cols - 1) / w.block_cols;
      if (!has_shape(t.weight_scale, {{rows, cols}}))
        fail(config.scale_suffix, "shape ", t.weight_scale.shape_str(), " but blocks of [", w.block_rows, ", ",
             w.block_cols, "] over [", n, ", ", k, "] need [", rows, ", ", cols, "]");
      w.scales = host_tensor(DType::kF32, {rows, cols});
      std::copy(scales.begin(), scales.end(), w.scales.ptr<float>());
      break;
    }
  }
  w.activations = config.activations;
  w.activation_group = config.activation_group;
  if (config.activations == Fp8Activations::kStatic) {
    if (t.input_scale.empty())
      fail(".input_scale", "is missing: static activation scales are stored for every projection");
    if (!has_shape(t.input_scale, {{}, {1}}))
      fail(".input_scale", "shape ", t.input_scale.shape_str(), " but a static input scale is [] or [1]");
    w.input_scale = read_scales(t, t.input_scale, ".input_scale")[0];
  }
  validate_fp8(w, t.source + ": " + t.name);
  return w;
}

}  // namespace tern
