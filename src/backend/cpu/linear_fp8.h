// The CPU reference for FP8 (W8A8) weights, reached through CpuBackend::linear.
#pragma once

#include "backend/backend.h"

namespace tern::cpu {

// out = x' W^T (+ bias) for w.is_fp8(), where x' is each row of x quantised to e4m3 and
// back (fake_quantize_fp8_activations) and W the dequantised weight (dequantize_fp8_row).
// x [M, K] and out [M, N] F32, the weight's tensors on the host. Every output element is
// the same fixed-order dot product as the dense path, so the result equals the dense
// linear of dequantize_fp8(w) over the fake-quantised input, and is batch-invariant.
void linear_fp8(const Tensor& x, const LinearWeight& w, const Tensor& out);

}  // namespace tern::cpu
