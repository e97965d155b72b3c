// The activation side of FP8 (W8A8) linear: BF16 x [M, K] quantised to e4m3 with a dynamic
// F32 scale per token or per token and column group, or with one static scale, by the
// arithmetic of quant/fp8_weight.h's fake_quantize_fp8_activations, so the codes and scales
// have the CPU's bits: s = max(amax, 1e-12) / 448, code = e4m3(x / s), both rounded to
// nearest even. The scales are written "slot-major" for the products that read them:
// slot j of token t (columns [j * slot_cols, (j + 1) * slot_cols)) at scales[j * M + t],
// holding the scale of the group its first column belongs to. One slot of K columns is
// cuBLASLt's per-token vector; slots of 128 columns its VEC128 activation scales (a
// per-token scale repeated over them, or groups of 128 one each).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace tern::cuda {

struct Fp8QuantizeProblem {
  int64_t m = 0, k = 0;
  const void* x = nullptr;    // [m, k] BF16, row-major
  int64_t group = 0;          // columns sharing a dynamic scale: k (or more) for one per token
  float static_scale = 0.0f;  // > 0: every token uses this scale (Fp8Activations::kStatic)
  int64_t slot_cols = 0;      // columns per scale slot: `group`, or any size when a group spans the row
  void* xq = nullptr;         // [m, k] e4m3 codes, row-major
  float* scales = nullptr;    // [ceil(k / slot_cols), m]
};

void launch_fp8_quantize(const Fp8QuantizeProblem& p, cudaStream_t stream);

}  // namespace tern::cuda
