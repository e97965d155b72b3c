// CudaBackend::linear for FP8 (W8A8) weights and their upload. Every path first quantises
// x to e4m3 with its scales (fp8_quantize.cuh, the CPU's bits), then:
//   M <= kFp8GemvMaxRows: the FP8 GEMV (fp8_gemv.cuh), bandwidth-bound;
//   larger M: cuBLASLt's FP8 GEMM (cublaslt_fp8_gemm.h) with channel x per-token scales
//     (outer vectors) or 128x128 block x per-token-and-128-column scales;
//   what cuBLASLt cannot take (other block shapes, activation groups other than 128 with
//     block weights or any with channel weights, N or K not a multiple of 16, or a GPU or
//     library without an algorithm): the GEMV kernel in tiles of 16 tokens.
// No path writes dequantised weights to memory.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/fp8_gemv.cuh"
#include "backend/cuda/fp8_quantize.cuh"
#include "backend/cuda/linear_fp8.cuh"

namespace tern::cuda {
namespace {

__global__ void add_bias_kernel(float* __restrict__ out, const float* __restrict__ bias, int64_t total, int n) {
  pdl_start();
  const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index < total) out[index] += __ldg(bias + index % n);
}

}  // namespace

void launch_add_bias(float* out, const float* bias, int64_t m, int64_t n, cudaStream_t stream) {
  launch(add_bias_kernel, ceil_div(m * n, 256), 256, 0, stream, out, bias, m * n, int(n));
}

}  // namespace tern::cuda

namespace tern {
namespace {

int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

// Block scales per block row on the device: the host's ceil(K / bk), padded to a multiple
// of 4 (cuBLASLt's BLK128x128 layout; the GEMV reads the same rows).
int64_t device_scale_cols(const Fp8Weight& q) {
  return round_up((q.in_features() + q.block_cols - 1) / q.block_cols, 4);
}

// The largest M the GEMV takes: kFp8GemvMaxRows, or TERN_FP8_GEMV_ROWS for tuning (0 sends
// every M that cuBLASLt can take to cuBLASLt).
int64_t gemv_max_rows() {
  const char* v = std::getenv("TERN_FP8_GEMV_ROWS");
  return v && *v ? std::atoll(v) : cuda::kFp8GemvMaxRows;
}

// The cuBLASLt scale modes that express the weight's scheme, if any. A per-token or static
// activation scale is written into every 128-column slot of the block mode (the same
// product). cuBLASLt's FP8 operands need N and K multiples of 16; the block mode is used
// for whole 128-column blocks only.
std::optional<cuda::Fp8GemmScaling> cublas_scaling(const Fp8Weight& q) {
  const int64_t n = q.out_features(), k = q.in_features();
  const bool groups = q.activations == Fp8Activations::kPerTokenGroup && q.activation_group < k;
  if (n % 16 != 0 || k % 16 != 0) return std::nullopt;
  if (!q.block_scaled()) return groups ? std::nullopt : std::optional(cuda::Fp8GemmScaling::kOuterVectors);
  if (q.block_rows != 128 || q.block_cols != 128 || k % 128 != 0 || (groups && q.activation_group != 128))
    return std::nullopt;
  return cuda::Fp8GemmScaling::kBlocks128;
}

}  // namespace

Fp8Weight CudaBackend::upload_fp8(const Fp8Weight& host) {
  Fp8Weight out = host;
  out.values = upload(host.values, DType::kF8E4M3);
  if (!host.block_scaled()) {
    out.scales = upload(host.scales, DType::kF32);
    return out;
  }
  const int64_t rows = host.scales.dim(0), cols = host.scales.dim(1), padded = device_scale_cols(host);
  Tensor scales = host_tensor(DType::kF32, {rows, padded});
  for (int64_t r = 0; r < rows; ++r) {
    float* dst = scales.ptr<float>() + r * padded;
    std::memcpy(dst, host.scales.ptr<const float>() + r * cols, size_t(cols) * 4);
    std::fill(dst + cols, dst + padded, 0.0f);  // never read: no columns lie there
  }
  out.scales = upload(scales, DType::kF32);
  return out;
}

void CudaBackend::linear_fp8(const Tensor& x, const LinearWeight& w, const Tensor& out) {
  const char* op = "linear (FP8)";
  const Fp8Weight& q = w.fp8;
  if (q.values.device != Device::kCuda || q.scales.device != Device::kCuda ||
      (q.block_scaled() && (q.scales.ndim != 2 || q.scales.dim(1) != device_scale_cols(q))))
    throw error("cuda linear: the FP8 weight was not uploaded with CudaBackend::upload_fp8");
  cuda::expect(x, DType::kBF16, op, "x");
  if (out.device != Device::kCuda || (out.dtype != DType::kBF16 && out.dtype != DType::kF32))
    throw error("cuda linear: out must be a CUDA BF16 or F32 tensor, got ", dtype_name(out.dtype));
  const int64_t m = x.rows(), k = x.cols(), n = q.out_features();
  if (q.in_features() != k || out.rows() != m || out.cols() != n)
    throw error("cuda linear: x ", x.shape_str(), " times FP8 weight [", n, ", ", q.in_features(), "] into out ",
                out.shape_str());
  if (!w.bias.empty()) {
    cuda::expect(w.bias, out.dtype, op, "bias (in the output's dtype)");
    cuda::expect_matrix(w.bias, 1, n, op, "bias");
  }
  if (m == 0) return;
  use_device();

  const std::optional<cuda::Fp8GemmScaling> scaling =
      m > gemv_max_rows() ? cublas_scaling(q) : std::optional<cuda::Fp8GemmScaling>();
  const bool blocks = scaling == cuda::Fp8GemmScaling::kBlocks128;
  const int64_t group = q.activations == Fp8Activations::kPerTokenGroup ? std::min(q.activation_group, k) : k;
  // One scale slot per group, except in cuBLASLt's block mode: one per 128 columns.
  const int64_t slot_cols = blocks ? 128 : group;
  void* codes = fp8_codes_workspace_.get(size_t(m * k), stream_);
  auto* scales =
      static_cast<float*>(fp8_scales_workspace_.get(size_t((k + slot_cols - 1) / slot_cols * m) * 4, stream_));
  const void* bias = w.bias.empty() ? nullptr : w.bias.data;

  cuda::Fp8GemmProblem gemm{.m = m,
                            .n = n,
                            .k = k,
                            .x = codes,
                            .x_scales = scales,
                            .w = q.values.data,
                            .w_scales = q.scales.ptr<const float>(),
                            .scaling = scaling.value_or(cuda::Fp8GemmScaling::kOuterVectors),
                            .bias = out.dtype == DType::kBF16 ? bias : nullptr,
                            .out = out.data,
                            .out_dtype = out.dtype};
  const bool use_cublas = scaling && fp8_gemm_->supports(gemm);

  cuda::launch_fp8_quantize({.m = m,
                             .k = k,
                             .x = x.data,
                             .group = group,
                             .static_scale = q.activations == Fp8Activations::kStatic ? q.input_scale : 0.0f,
                             .slot_cols = slot_cols,
                             .xq = codes,
                             .scales = scales},
                            stream_);
  if (use_cublas) {
    fp8_gemm_->run(gemm, stream_);
    if (bias && out.dtype == DType::kF32)
      cuda::launch_add_bias(out.ptr<float>(), static_cast<const float*>(bias), m, n, stream_);
    return;
  }
  cuda::launch_fp8_gemv({.m = m,
                         .n = n,
                         .k = k,
                         .xq = codes,
                         .x_scales = scales,
                         .x_slot_cols = slot_cols,
                         .w = q.values.data,
                         .w_scales = q.scales.ptr<const float>(),
                         .block_rows = q.block_rows,
                         .block_cols = q.block_cols,
                         .w_scale_ld = q.block_scaled() ? device_scale_cols(q) : 0,
                         .bias = bias,
                         .out = out.data,
                         .out_dtype = out.dtype},
                        stream_);
}

}  // namespace tern
