// The CPU reference for INT4 weights, reached through CpuBackend::linear.
#pragma once

#include "backend/backend.h"

namespace tern::cpu {

// out = x W^T (+ bias) for w.is_int4(). x [M, K] and out [M, N] F32; the weight's
// tensors on the host. Each weight row is dequantised with dequantize_int4_row and used
// in the same fixed-order dot product as the dense path, so the result is bit-identical
// to the dense linear over dequantize_int4(w), and batch-invariant like it.
void linear_int4(const Tensor& x, const LinearWeight& w, const Tensor& out);

}  // namespace tern::cpu
