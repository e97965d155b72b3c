#include "backend/cpu/linear_fp8.h"

#include <vector>

#include "backend/cpu/op_support.h"
#include "base/thread_pool.h"

namespace tern::cpu {

void linear_fp8(const Tensor& x, const LinearWeight& w, const Tensor& out) {
  expect(x, DType::kF32, "linear", "x");
  expect(out, DType::kF32, "linear", "out");
  const Fp8Weight& q = w.fp8;
  if (q.values.device != Device::kCpu) throw error("cpu linear: FP8 weight is not in host memory");
  const int64_t m = x.rows(), k = x.cols(), n = q.out_features();
  if (q.in_features() != k || out.rows() != m || out.cols() != n)
    throw error("linear: x ", x.shape_str(), " times FP8 weight [", n, ", ", q.in_features(), "] into out ",
                out.shape_str());
  std::vector<float> bias;
  if (!w.bias.empty()) {
    expect_float(w.bias, "linear", "bias");
    TERN_CHECK(w.bias.numel() == n, "linear bias ", w.bias.shape_str());
    bias.resize(n);
    widen(w.bias, 0, n, bias.data());
  }
  // The inputs are quantised once per row, before any product, as the GPU kernels do.
  std::vector<float> xq(size_t(m * k));
  const float* xs = x.ptr<const float>();
  ThreadPool::global().parallel_for(m, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) fake_quantize_fp8_activations(q, xs + i * k, xq.data() + i * k);
  });
  float* ys = out.ptr<float>();
  ThreadPool::global().parallel_for(n, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> row(k);
    for (int64_t j = begin; j < end; ++j) {
      dequantize_fp8_row(q, j, row.data());
      const float b = bias.empty() ? 0.0f : bias[j];
      for (int64_t i = 0; i < m; ++i) ys[i * n + j] = dot(xq.data() + i * k, row.data(), k) + b;
    }
  });
}

}  // namespace tern::cpu
