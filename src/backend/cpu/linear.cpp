#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/linear_fp8.h"
#include "backend/cpu/linear_int4.h"
#include "backend/cpu/linear_rows.h"
#include "backend/cpu/op_support.h"

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
  // Each weight row is widened once and used for every input row.
  cpu::linear_rows(x.ptr<const float>(), m, k, w.bias, n, out.ptr<float>(),
                   [&](int64_t j, float* row) { cpu::widen(w.weight, j * k, k, row); });
}

}  // namespace tern
