// The one formula of Backend::adjust_logits, shared by the CPU op, the CUDA kernel and the
// host sampler so that all three give the same bits: logit_bias is added, then the
// repetition penalty divides a positive logit or multiplies a negative one (HF), then the
// presence and frequency penalties are subtracted (OpenAI). A banned token has bias -inf.
#pragma once

#ifdef __CUDACC__
#define TERN_HOST_DEVICE __host__ __device__
#else
#define TERN_HOST_DEVICE
#endif

namespace tern {

TERN_HOST_DEVICE inline float adjust_logit(float x, float bias, float repetition, float subtract) {
#ifdef __CUDA_ARCH__
  // The _rn intrinsics are never fused into an FMA, so the device rounds as the host does.
  x = __fadd_rn(x, bias);
  x = x > 0.0f ? __fdiv_rn(x, repetition) : __fmul_rn(x, repetition);
  return __fsub_rn(x, subtract);
#else
  x += bias;
  x = x > 0.0f ? x / repetition : x * repetition;
  return x - subtract;
#endif
}

}  // namespace tern
