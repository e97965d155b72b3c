#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/rms_norm.cuh"

namespace tern::cuda {
namespace {

constexpr int kThreads = 256;

// Sum over the block in a fixed order: warp trees, then warp 0 adds the warp sums.
__device__ float block_sum(float v) {
  __shared__ float warp_sums[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < kThreads / 32; ++w) total += warp_sums[w];
  return total;
}

__device__ float weight_at(const __nv_bfloat16* w, int64_t i) { return __bfloat162float(w[i]); }
__device__ float weight_at(const float* w, int64_t i) { return w[i]; }

// kVec values per access: 8 (16-byte loads) when the row length allows, else 1. out may
// alias x or residual: each thread writes only the elements it read itself.
template <int kVec, bool kAdd, typename WeightT>
__global__ void __launch_bounds__(kThreads)
    rms_norm_kernel(__nv_bfloat16* residual, const __nv_bfloat16* x, const WeightT* __restrict__ weight, float eps,
                    int64_t cols, __nv_bfloat16* out) {
  pdl_start();
  struct alignas(2 * kVec) Pack {
    __nv_bfloat16 v[kVec];
  };
  const int64_t row = blockIdx.x;
  const Pack* xs = reinterpret_cast<const Pack*>(x + row * cols);
  Pack* res = reinterpret_cast<Pack*>(kAdd ? residual + row * cols : nullptr);
  Pack* dst = reinterpret_cast<Pack*>(out + row * cols);
  const int64_t packs = cols / kVec;

  float sum_squares = 0.0f;
  for (int64_t i = threadIdx.x; i < packs; i += kThreads) {
    Pack p = xs[i];
    if constexpr (kAdd) {
      Pack r = res[i];
      for (int j = 0; j < kVec; ++j) p.v[j] = __float2bfloat16(__bfloat162float(r.v[j]) + __bfloat162float(p.v[j]));
      res[i] = p;
    }
    for (int j = 0; j < kVec; ++j) {
      float v = __bfloat162float(p.v[j]);
      sum_squares += v * v;
    }
  }
  const float inv = 1.0f / sqrtf(block_sum(sum_squares) / float(cols) + eps);
  // Second pass: this thread re-reads what it read (or wrote) in the first, from cache.
  const Pack* src = kAdd ? res : xs;
  for (int64_t i = threadIdx.x; i < packs; i += kThreads) {
    Pack p = src[i];
    for (int j = 0; j < kVec; ++j)
      p.v[j] = __float2bfloat16(weight_at(weight, i * kVec + j) * (__bfloat162float(p.v[j]) * inv));
    dst[i] = p;
  }
}

template <bool kAdd, typename WeightT>
void launch_typed(__nv_bfloat16* residual, const __nv_bfloat16* x, const WeightT* weight, float eps, int64_t rows,
                  int64_t cols, __nv_bfloat16* out, cudaStream_t stream) {
  auto aligned16 = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  const bool wide = cols % 8 == 0 && aligned16(x) && aligned16(out) && (!kAdd || aligned16(residual));
  if (wide)
    launch(rms_norm_kernel<8, kAdd, WeightT>, unsigned(rows), kThreads, 0, stream, residual, x, weight, eps, cols, out);
  else
    launch(rms_norm_kernel<1, kAdd, WeightT>, unsigned(rows), kThreads, 0, stream, residual, x, weight, eps, cols, out);
}

template <bool kAdd>
void launch_add(__nv_bfloat16* residual, const __nv_bfloat16* x, const void* weight, DType weight_dtype, float eps,
                int64_t rows, int64_t cols, __nv_bfloat16* out, cudaStream_t stream) {
  if (weight_dtype == DType::kF32)
    launch_typed<kAdd>(residual, x, static_cast<const float*>(weight), eps, rows, cols, out, stream);
  else
    launch_typed<kAdd>(residual, x, static_cast<const __nv_bfloat16*>(weight), eps, rows, cols, out, stream);
}

void expect_weight(const Tensor& weight, int64_t cols, const char* op) {
  if (weight.device != Device::kCuda || (weight.dtype != DType::kBF16 && weight.dtype != DType::kF32))
    throw error("cuda ", op, ": weight must be a CUDA BF16 or F32 tensor, got ", dtype_name(weight.dtype));
  if (weight.numel() != cols) throw error("cuda ", op, ": weight ", weight.shape_str(), " for rows of ", cols);
}

}  // namespace

void launch_rms_norm(__nv_bfloat16* residual, const __nv_bfloat16* x, const void* weight, DType weight_dtype, float eps,
                     int64_t rows, int64_t cols, __nv_bfloat16* out, cudaStream_t stream) {
  if (rows == 0) return;
  if (residual)
    launch_add<true>(residual, x, weight, weight_dtype, eps, rows, cols, out, stream);
  else
    launch_add<false>(residual, x, weight, weight_dtype, eps, rows, cols, out, stream);
}

}  // namespace tern::cuda

namespace tern {

void CudaBackend::rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) {
  cuda::expect(x, DType::kBF16, "rms_norm", "x");
  cuda::expect(out, DType::kBF16, "rms_norm", "out");
  cuda::expect_matrix(out, x.rows(), x.cols(), "rms_norm", "out");
  cuda::expect_weight(weight, x.cols(), "rms_norm");
  use_device();
  cuda::launch_rms_norm(nullptr, x.ptr<const __nv_bfloat16>(), weight.data, weight.dtype, eps, x.rows(), x.cols(),
                        out.ptr<__nv_bfloat16>(), stream_);
}

void CudaBackend::add_rms_norm(const Tensor& residual, const Tensor& x, const Tensor& weight, float eps,
                               const Tensor& out) {
  cuda::expect(residual, DType::kBF16, "add_rms_norm", "residual");
  cuda::expect(x, DType::kBF16, "add_rms_norm", "x");
  cuda::expect(out, DType::kBF16, "add_rms_norm", "out");
  cuda::expect_matrix(residual, x.rows(), x.cols(), "add_rms_norm", "residual");
  cuda::expect_matrix(out, x.rows(), x.cols(), "add_rms_norm", "out");
  cuda::expect_weight(weight, x.cols(), "add_rms_norm");
  use_device();
  cuda::launch_rms_norm(residual.ptr<__nv_bfloat16>(), x.ptr<const __nv_bfloat16>(), weight.data, weight.dtype, eps,
                        x.rows(), x.cols(), out.ptr<__nv_bfloat16>(), stream_);
}

}  // namespace tern
