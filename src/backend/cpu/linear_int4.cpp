#include "backend/cpu/linear_int4.h"

#include <vector>

#include "backend/cpu/op_support.h"
#include "base/thread_pool.h"

namespace tern::cpu {

void linear_int4(const Tensor& x, const LinearWeight& w, const Tensor& out) {
  expect(x, DType::kF32, "linear", "x");
  expect(out, DType::kF32, "linear", "out");
  const Int4Weight& q = w.int4;
  if (q.codes.device != Device::kCpu || q.layout != Int4Layout::kRowMajor)
    throw error("cpu linear: INT4 weight is not in host memory in the row-major layout");
  const int64_t m = x.rows(), k = x.cols(), n = q.out_features();
  if (q.in_features() != k || out.rows() != m || out.cols() != n)
    throw error("linear: x ", x.shape_str(), " times INT4 weight [", n, ", ", q.in_features(), "] into out ",
                out.shape_str());
  std::vector<float> bias;
  if (!w.bias.empty()) {
    expect_float(w.bias, "linear", "bias");
    TERN_CHECK(w.bias.numel() == n, "linear bias ", w.bias.shape_str());
    bias.resize(n);
    widen(w.bias, 0, n, bias.data());
  }
  const float* xs = x.ptr<const float>();
  float* ys = out.ptr<float>();
  ThreadPool::global().parallel_for(n, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> row(k);
    for (int64_t j = begin; j < end; ++j) {
      dequantize_int4_row(q, j, row.data());
      const float b = bias.empty() ? 0.0f : bias[j];
      for (int64_t i = 0; i < m; ++i) ys[i * n + j] = dot(xs + i * k, row.data(), k) + b;
    }
  });
}

}  // namespace tern::cpu
