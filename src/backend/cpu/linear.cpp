#include <algorithm>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/linear_fp8.h"
#include "backend/cpu/linear_int4.h"
#include "backend/cpu/op_support.h"
#include "base/thread_pool.h"

namespace tern {

void CpuBackend::linear(const Tensor& x, const LinearWeight& w, const Tensor& out) {
  if (w.is_int4()) return cpu::linear_int4(x, w, out);
  if (w.is_fp8()) return cpu::linear_fp8(x, w, out);
  cpu::expect(x, DType::kF32, "linear", "x");
  cpu::expect(out, DType::kF32, "linear", "out");
  cpu::expect_float(w.weight, "linear", "weight");
  const int64_t m = x.rows(), k = x.cols(), n = w.out_features();
  if (w.in_features() != k || out.rows() != m || out.cols() != n)
    throw error("linear: x ", x.shape_str(), " times weight ", w.weight.shape_str(), " into out ", out.shape_str());
  std::vector<float> bias;
  if (!w.bias.empty()) {
    cpu::expect_float(w.bias, "linear", "bias");
    TERN_CHECK(w.bias.numel() == n, "linear bias ", w.bias.shape_str());
    bias.resize(n);
    cpu::widen(w.bias, 0, n, bias.data());
  }
  const float* xs = x.ptr<const float>();
  float* ys = out.ptr<float>();
  // Parallel over output features: each weight row is widened once and used for every
  // input row; every output element is one fixed-order dot product.
  ThreadPool::global().parallel_for(n, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> row(k);
    for (int64_t j = begin; j < end; ++j) {
      cpu::widen(w.weight, j * k, k, row.data());
      float b = bias.empty() ? 0.0f : bias[j];
      for (int64_t i = 0; i < m; ++i) ys[i * n + j] = cpu::dot(xs + i * k, row.data(), k) + b;
    }
  });
}

}  // namespace tern
