#include <cmath>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/op_support.h"

namespace tern {
namespace {

// out = x / sqrt(mean(x^2) + eps) * w, the order of operations of HF's Qwen2RMSNorm.
void normalize_row(const float* x, const float* w, float eps, int64_t n, float* out) {
  double sum = 0.0;  // a wide accumulator keeps long rows accurate; order is fixed
  for (int64_t i = 0; i < n; ++i) sum += double(x[i]) * double(x[i]);
  float inv = 1.0f / std::sqrt(float(sum / double(n)) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = w[i] * (x[i] * inv);
}

std::vector<float> widened(const Tensor& w) {
  std::vector<float> v(w.numel());
  cpu::widen(w, 0, w.numel(), v.data());
  return v;
}

}  // namespace

void CpuBackend::rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) {
  cpu::expect(x, DType::kF32, "rms_norm", "x");
  cpu::expect(out, DType::kF32, "rms_norm", "out");
  cpu::expect_float(weight, "rms_norm", "weight");
  const int64_t n = x.cols();
  TERN_CHECK(weight.numel() == n && out.numel() == x.numel(), "rms_norm shapes");
  std::vector<float> w = widened(weight);
  for (int64_t r = 0; r < x.rows(); ++r)
    normalize_row(x.ptr<float>() + r * n, w.data(), eps, n, out.ptr<float>() + r * n);
}

void CpuBackend::add_rms_norm(const Tensor& residual, const Tensor& x, const Tensor& weight, float eps,
                              const Tensor& out) {
  cpu::expect(residual, DType::kF32, "add_rms_norm", "residual");
  cpu::expect(x, DType::kF32, "add_rms_norm", "x");
  cpu::expect(out, DType::kF32, "add_rms_norm", "out");
  cpu::expect_float(weight, "add_rms_norm", "weight");
  const int64_t n = x.cols();
  TERN_CHECK(weight.numel() == n && residual.numel() == x.numel() && out.numel() == x.numel(), "add_rms_norm shapes");
  std::vector<float> w = widened(weight);
  for (int64_t r = 0; r < x.rows(); ++r) {
    float* res = residual.ptr<float>() + r * n;
    const float* xr = x.ptr<const float>() + r * n;
    for (int64_t i = 0; i < n; ++i) res[i] += xr[i];
    normalize_row(res, w.data(), eps, n, out.ptr<float>() + r * n);
  }
}

}  // namespace tern
