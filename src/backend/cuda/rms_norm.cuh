// RMSNorm, alone and fused with the residual add before it. One block per row, FP32
// math, a fixed-order block reduction (so a row's result never depends on the batch).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/dtype.h"

namespace tern::cuda {

// out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight for rows r < rows of `cols` values.
// With `residual` non-null, first residual[r] += x[r] (rounded to BF16, written back),
// and the norm is taken of that sum. weight: [cols] of weight_dtype (BF16 or F32).
void launch_rms_norm(__nv_bfloat16* residual, const __nv_bfloat16* x, const void* weight, DType weight_dtype, float eps,
                     int64_t rows, int64_t cols, __nv_bfloat16* out, cudaStream_t stream);

}  // namespace tern::cuda
