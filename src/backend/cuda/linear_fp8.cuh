// The FP8 helper behind CudaBackend::linear besides the quantiser (fp8_quantize.cuh), the
// GEMV (fp8_gemv.cuh) and cuBLASLt (cublaslt_fp8_gemm.h): the bias of an F32 output of the
// cuBLASLt product, whose epilogue takes a BF16 bias only.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace tern::cuda {

// out[i, j] += bias[j] for out [m, n] F32.
void launch_add_bias(float* out, const float* bias, int64_t m, int64_t n, cudaStream_t stream);

}  // namespace tern::cuda
