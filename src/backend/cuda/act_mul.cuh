// The MLP gate: out = act(gate) * up (SiLU, GELU or GELU's tanh form), FP32 math, BF16 in
// and out.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/activation.h"

namespace tern::cuda {

// gate_up: [rows, 2 * cols], the gate half first; out: [rows, cols].
void launch_act_mul(const __nv_bfloat16* gate_up, int64_t rows, int64_t cols, __nv_bfloat16* out, Activation act,
                    cudaStream_t stream);

}  // namespace tern::cuda
