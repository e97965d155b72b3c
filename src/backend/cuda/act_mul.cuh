// SwiGLU's gate: out = silu(gate) * up, FP32 math, BF16 in and out.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace tern::cuda {

// gate_up: [rows, 2 * cols], the gate half first; out: [rows, cols].
void launch_silu_mul(const __nv_bfloat16* gate_up, int64_t rows, int64_t cols, __nv_bfloat16* out, cudaStream_t stream);

}  // namespace tern::cuda
