#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/op_support.h"

namespace tern {

void CpuBackend::silu_mul(const Tensor& gate_up, const Tensor& out) {
  cpu::expect(gate_up, DType::kF32, "silu_mul", "gate_up");
  cpu::expect(out, DType::kF32, "silu_mul", "out");
  const int64_t inter = out.cols();
  TERN_CHECK(gate_up.cols() == 2 * inter && gate_up.rows() == out.rows(), "silu_mul ", gate_up.shape_str(), " -> ",
             out.shape_str());
  for (int64_t r = 0; r < out.rows(); ++r) {
    const float* g = gate_up.ptr<const float>() + r * 2 * inter;
    const float* u = g + inter;
    float* o = out.ptr<float>() + r * inter;
    for (int64_t i = 0; i < inter; ++i) o[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  }
}

}  // namespace tern
