#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/op_support.h"

namespace tern {
namespace {

// The definitions of transformers' ACT2FN: SiLU, GELU with erf, and GELU's tanh form
// (PytorchGELUTanh / NewGELUActivation).
template <Activation kAct>
float activate(float x) {
  if constexpr (kAct == Activation::kSilu) {
    return x / (1.0f + std::exp(-x));
  } else if constexpr (kAct == Activation::kGelu) {
    return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
  } else {
    constexpr float kSqrt2OverPi = 0.79788456080286536f;
    return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
  }
}

template <Activation kAct>
void act_mul_rows(const Tensor& gate_up, const Tensor& out) {
  const int64_t inter = out.cols();
  for (int64_t r = 0; r < out.rows(); ++r) {
    const float* g = gate_up.ptr<const float>() + r * 2 * inter;
    const float* u = g + inter;
    float* o = out.ptr<float>() + r * inter;
    for (int64_t i = 0; i < inter; ++i) o[i] = activate<kAct>(g[i]) * u[i];
  }
}

}  // namespace

void CpuBackend::act_mul(const Tensor& gate_up, const Tensor& out, Activation act) {
  cpu::expect(gate_up, DType::kF32, "act_mul", "gate_up");
  cpu::expect(out, DType::kF32, "act_mul", "out");
  TERN_CHECK(gate_up.cols() == 2 * out.cols() && gate_up.rows() == out.rows(), "act_mul ", gate_up.shape_str(), " -> ",
             out.shape_str());
  switch (act) {
    case Activation::kSilu:
      return act_mul_rows<Activation::kSilu>(gate_up, out);
    case Activation::kGelu:
      return act_mul_rows<Activation::kGelu>(gate_up, out);
    case Activation::kGeluTanh:
      return act_mul_rows<Activation::kGeluTanh>(gate_up, out);
  }
}

}  // namespace tern
