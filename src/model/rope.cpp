#include "model/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "base/error.h"

// Every float expression below mirrors one torch op on a float32 tensor, where a Python
// scalar operand is first rounded to float32; reordering or fusing them (FMA) would
// change the last bit. Notably `s / tensor` in torch is `tensor.reciprocal() * s`.

namespace tern {
namespace {

// base ** (arange(0, dim, 2).float() / dim), the frequencies before any scaling.
std::vector<float> pos_freqs(double base, int64_t dim) {
  std::vector<float> out(size_t(dim / 2));
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float exponent = float(2 * i) / float(dim);
    out[size_t(i)] = std::pow(float(base), exponent);
  }
  return out;
}

// _compute_default_rope_parameters: 1.0 / pos_freqs.
std::vector<float> default_inv_freq(double base, int64_t dim) {
  std::vector<float> inv = pos_freqs(base, dim);
  for (float& x : inv) x = 1.0f / x;
  return inv;
}

// _compute_llama3_parameters.
void apply_llama3(const RopeScaling& r, std::vector<float>& inv) {
  const float factor = float(r.factor);
  const double old_context_len = double(r.original_max_position_embeddings);
  const float low_freq_wavelen = float(old_context_len / r.low_freq_factor);
  const float high_freq_wavelen = float(old_context_len / r.high_freq_factor);
  const float two_pi = float(2 * std::numbers::pi);
  for (float& x : inv) {
    const float wavelen = (1.0f / x) * two_pi;
    const float llama = wavelen > low_freq_wavelen ? x / factor : x;
    const float smooth = ((1.0f / wavelen) * float(old_context_len) - float(r.low_freq_factor)) /
                         float(r.high_freq_factor - r.low_freq_factor);
    const float a = (1.0f - smooth) * llama;
    const float smoothed = a / factor + smooth * llama;
    const bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
    x = medium ? smoothed : llama;
  }
}

double yarn_mscale(double scale, double mscale) { return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; }

// _compute_yarn_parameters; returns the attention factor.
double apply_yarn(const RopeScaling& r, double base, int64_t dim, std::vector<float>& inv) {
  double attention_factor;
  if (r.attention_factor) {
    attention_factor = *r.attention_factor;
  } else if (r.mscale.value_or(0.0) != 0.0 && r.mscale_all_dim.value_or(0.0) != 0.0) {
    attention_factor = yarn_mscale(r.factor, *r.mscale) / yarn_mscale(r.factor, *r.mscale_all_dim);
  } else {
    attention_factor = yarn_mscale(r.factor, 1.0);
  }

  // find_correction_range, in Python floats.
  const double max_pos = double(r.original_max_position_embeddings);
  auto correction_dim = [&](double rotations) {
    return (double(dim) * std::log(max_pos / (rotations * 2 * std::numbers::pi))) / (2 * std::log(base));
  };
  double low = correction_dim(r.beta_fast);
  double high = correction_dim(r.beta_slow);
  if (r.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, double(dim - 1));
  if (low == high) high += 0.001;  // linear_ramp_factor's guard against a zero range

  const std::vector<float> pos = pos_freqs(base, dim);
  const float factor = float(r.factor);
  for (size_t i = 0; i < pos.size(); ++i) {
    const float extrapolation = 1.0f / pos[i];
    const float interpolation = 1.0f / (pos[i] * factor);
    const float ramp = std::clamp((float(i) - float(low)) / float(high - low), 0.0f, 1.0f);
    const float extrapolation_factor = 1.0f - ramp;
    const float a = interpolation * (1.0f - extrapolation_factor);
    const float b = extrapolation * extrapolation_factor;
    inv[i] = a + b;
  }
  return attention_factor;
}

}  // namespace

RopeInit compute_rope(const ModelConfig& config) {
  const int64_t dim = config.head_dim;
  TERN_CHECK(dim > 0 && dim % 2 == 0, "head_dim ", dim);
  RopeInit out;
  out.inv_freq = default_inv_freq(config.rope_theta, dim);
  const RopeScaling& r = config.rope_scaling;
  switch (r.type) {
    case RopeScalingType::kNone:
      break;
    case RopeScalingType::kLinear:
      for (float& x : out.inv_freq) x /= float(r.factor);
      break;
    case RopeScalingType::kLlama3:
      apply_llama3(r, out.inv_freq);
      break;
    case RopeScalingType::kYarn:
      out.attention_scaling = float(apply_yarn(r, config.rope_theta, dim, out.inv_freq));
      break;
  }
  return out;
}

}  // namespace tern
