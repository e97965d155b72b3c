#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/op_support.h"
#include "backend/logit_adjustment.h"

namespace tern {

void CpuBackend::adjust_logits(const Tensor& logits, const Tensor& targets, const Tensor& amounts) {
  const char* op = "adjust_logits";
  cpu::expect(logits, DType::kF32, op, "logits");
  cpu::expect(targets, DType::kI32, op, "targets");
  cpu::expect(amounts, DType::kF32, op, "amounts");
  const int64_t n = targets.rows();
  TERN_CHECK(targets.cols() == 2 && amounts.rows() == n && amounts.cols() == 3, op, ": targets [", n, ", ",
             targets.cols(), "] and amounts [", amounts.rows(), ", ", amounts.cols(), "] should be [N, 2] and [N, 3]");
  const int32_t* t = targets.ptr<const int32_t>();
  const float* a = amounts.ptr<const float>();
  for (int64_t i = 0; i < n; ++i) {
    const int32_t r = t[2 * i], c = t[2 * i + 1];
    TERN_CHECK(r >= 0 && r < logits.rows() && c >= 0 && c < logits.cols(), op, ": target (", r, ", ", c,
               ") outside logits [", logits.rows(), ", ", logits.cols(), "]");
    float& x = logits.ptr<float>()[r * logits.cols() + c];
    x = adjust_logit(x, a[3 * i], a[3 * i + 1], a[3 * i + 2]);
  }
}

}  // namespace tern
