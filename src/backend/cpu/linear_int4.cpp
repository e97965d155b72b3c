#include "backend/cpu/linear_int4.h"

#include "backend/cpu/linear_rows.h"
#include "backend/cpu/op_support.h"

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
  linear_rows(x.ptr<const float>(), m, k, w.bias, n, out.ptr<float>(),
              [&](int64_t j, float* row) { dequantize_int4_row(q, j, row); });
}

}  // namespace tern::cpu
