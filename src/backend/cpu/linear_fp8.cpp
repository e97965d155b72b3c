#include "backend/cpu/linear_fp8.h"

#include <vector>

#include "backend/cpu/linear_rows.h"
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
  // The inputs are quantised once per row, before any product, as the GPU kernels do.
  std::vector<float> xq(size_t(m * k));
  const float* xs = x.ptr<const float>();
  ThreadPool::global().parallel_for(m, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) fake_quantize_fp8_activations(q, xs + i * k, xq.data() + i * k);
  });
  linear_rows(xq.data(), m, k, w.bias, n, out.ptr<float>(),
              [&](int64_t j, float* row) { dequantize_fp8_row(q, j, row); });
}

}  // namespace tern::cpu
