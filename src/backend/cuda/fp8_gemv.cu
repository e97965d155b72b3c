#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include "backend/cuda/common.cuh"
#include "backend/cuda/fp8_gemv.cuh"

namespace tern::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kRowsPerWarp = 4;
constexpr int kRowsPerBlock = kWarpsPerBlock * kRowsPerWarp;

// kWidth e4m3 codes of one row: 16 (a 16-byte load) or 1.
template <int kWidth>
struct Codes;

template <>
struct Codes<16> {
  static constexpr int kUnroll = 2;  // chunks of each row in flight per lane
  uint4 raw;
  __device__ __forceinline__ void load_streaming(const uint8_t* p) { raw = __ldcs(reinterpret_cast<const uint4*>(p)); }
  __device__ __forceinline__ void load(const uint8_t* p) { raw = __ldg(reinterpret_cast<const uint4*>(p)); }
  __device__ __forceinline__ void to_float(float (&f)[16]) const {
    const auto* pairs = reinterpret_cast<const __nv_fp8x2_storage_t*>(&raw);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const float2 v = __half22float2(__half2(__nv_cvt_fp8x2_to_halfraw2(pairs[i], __NV_E4M3)));
      f[2 * i] = v.x;
      f[2 * i + 1] = v.y;
    }
  }
};

template <>
struct Codes<1> {
  static constexpr int kUnroll = 8;
  uint8_t raw;
  __device__ __forceinline__ void load_streaming(const uint8_t* p) { raw = __ldcs(p); }
  __device__ __forceinline__ void load(const uint8_t* p) { raw = __ldg(p); }
  __device__ __forceinline__ void to_float(float (&f)[1]) const {
    f[0] = __half2float(__half(__nv_cvt_fp8_to_halfraw(raw, __NV_E4M3)));
  }
};

__device__ __forceinline__ void store(float* out, float v) { *out = v; }
__device__ __forceinline__ void store(__nv_bfloat16* out, float v) { *out = __float2bfloat16(v); }
__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const __nv_bfloat16* p) { return __bfloat162float(*p); }

// A warp owns kRowsPerWarp rows and the block's M tokens (blockIdx.y's tile); lane l takes
// chunks l, l + 32, ... of K. Each lane sums its chunks in order and the warp adds the
// lanes in a fixed tree, so an output depends only on its own row and token. Rows past N
// and tokens past M read the last valid one and are not written.
template <int kWidth, int M, bool kUniform, typename OutT>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    fp8_gemv_kernel(const uint8_t* __restrict__ xq, const float* __restrict__ x_scales, int x_slot_cols,
                    const uint8_t* __restrict__ w, const float* __restrict__ w_scales, int block_rows, int block_cols,
                    int w_scale_ld, const OutT* __restrict__ bias, OutT* __restrict__ out, int m, int n, int k) {
  pdl_start();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row0 = (blockIdx.x * kWarpsPerBlock + warp) * kRowsPerWarp;
  if (row0 >= n) return;
  const int token0 = blockIdx.y * M;
  const int rows = min(kRowsPerWarp, n - row0), tokens = min(M, m - token0);
  int row[kRowsPerWarp], token[M];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) row[r] = row0 + min(r, rows - 1);
#pragma unroll
  for (int t = 0; t < M; ++t) token[t] = token0 + min(t, tokens - 1);

  float acc[kRowsPerWarp][M];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
    for (int t = 0; t < M; ++t) acc[r][t] = 0.0f;

  // One chunk of kWidth columns from column `col` of every row, against every token.
  auto dot_chunk = [&](const Codes<kWidth>(&wc)[kRowsPerWarp], int col) {
    float wf[kRowsPerWarp][kWidth];
    float sw[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      wc[r].to_float(wf[r]);
      if constexpr (!kUniform)
        sw[r] = block_rows == 0 ? __ldg(w_scales + row[r])
                                : __ldg(w_scales + int64_t(row[r] / block_rows) * w_scale_ld + col / block_cols);
    }
#pragma unroll
    for (int t = 0; t < M; ++t) {
      Codes<kWidth> xc;
      xc.load(xq + int64_t(token[t]) * k + col);
      float xf[kWidth];
      xc.to_float(xf);
      if constexpr (kUniform) {
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
          for (int e = 0; e < kWidth; ++e) acc[r][t] = fmaf(wf[r][e], xf[e], acc[r][t]);
      } else {
        const float sx = __ldg(x_scales + int64_t(col / x_slot_cols) * m + token[t]);
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) {
          float sum = 0.0f;
#pragma unroll
          for (int e = 0; e < kWidth; ++e) sum = fmaf(wf[r][e], xf[e], sum);
          acc[r][t] = fmaf(sw[r] * sx, sum, acc[r][t]);
        }
      }
    }
  };

  constexpr int kUnroll = Codes<kWidth>::kUnroll;
  const int chunks = k / kWidth;
  int c = lane;
  for (; c + 32 * (kUnroll - 1) < chunks; c += 32 * kUnroll) {
    Codes<kWidth> wc[kUnroll][kRowsPerWarp];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) wc[u][r].load_streaming(w + int64_t(row[r]) * k + (c + 32 * u) * kWidth);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) dot_chunk(wc[u], (c + 32 * u) * kWidth);
  }
  for (; c < chunks; c += 32) {
    Codes<kWidth> wc[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) wc[r].load_streaming(w + int64_t(row[r]) * k + c * kWidth);
    dot_chunk(wc, c * kWidth);
  }

#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
    for (int t = 0; t < M; ++t)
#pragma unroll
      for (int offset = 16; offset > 0; offset /= 2) acc[r][t] += __shfl_xor_sync(0xffffffffu, acc[r][t], offset);

        // Lane (r * M + t) % 32 writes output (token t, row r).
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
    for (int t = 0; t < M; ++t)
      if (lane == (r * M + t) % 32 && r < rows && t < tokens) {
        float v = acc[r][t];
        if constexpr (kUniform) v = v * (__ldg(x_scales + token[t]) * __ldg(w_scales + row[r]));
        store(out + int64_t(token[t]) * n + row[r], v + (bias ? load(bias + row[r]) : 0.0f));
      }
}

template <int kWidth, int M, bool kUniform>
void launch_tile(const Fp8GemvProblem& p, cudaStream_t stream) {
  const dim3 grid(ceil_div(p.n, kRowsPerBlock), ceil_div(p.m, M));
  const auto* xq = static_cast<const uint8_t*>(p.xq);
  const auto* w = static_cast<const uint8_t*>(p.w);
  if (p.out_dtype == DType::kF32)
    launch(fp8_gemv_kernel<kWidth, M, kUniform, float>, grid, kWarpsPerBlock * 32, 0, stream, xq, p.x_scales,
           int(p.x_slot_cols), w, p.w_scales, int(p.block_rows), int(p.block_cols), int(p.w_scale_ld),
           static_cast<const float*>(p.bias), static_cast<float*>(p.out), int(p.m), int(p.n), int(p.k));
  else
    launch(fp8_gemv_kernel<kWidth, M, kUniform, __nv_bfloat16>, grid, kWarpsPerBlock * 32, 0, stream, xq, p.x_scales,
           int(p.x_slot_cols), w, p.w_scales, int(p.block_rows), int(p.block_cols), int(p.w_scale_ld),
           static_cast<const __nv_bfloat16*>(p.bias), static_cast<__nv_bfloat16*>(p.out), int(p.m), int(p.n), int(p.k));
}

// The token tile: the smallest of 1, 2, 4, 8, 16 that holds M (16 beyond); the
// byte-at-a-time variant, a fallback, has only the 16-token tile.
template <int kWidth, bool kUniform>
void launch_tokens(const Fp8GemvProblem& p, cudaStream_t stream) {
  if constexpr (kWidth == 1) {
    launch_tile<1, kFp8GemvMaxRows, kUniform>(p, stream);
  } else {
    if (p.m == 1)
      launch_tile<kWidth, 1, kUniform>(p, stream);
    else if (p.m <= 2)
      launch_tile<kWidth, 2, kUniform>(p, stream);
    else if (p.m <= 4)
      launch_tile<kWidth, 4, kUniform>(p, stream);
    else if (p.m <= 8)
      launch_tile<kWidth, 8, kUniform>(p, stream);
    else
      launch_tile<kWidth, kFp8GemvMaxRows, kUniform>(p, stream);
  }
}

}  // namespace

void launch_fp8_gemv(const Fp8GemvProblem& p, cudaStream_t stream) {
  auto aligned16 = [](const void* q) { return reinterpret_cast<uintptr_t>(q) % 16 == 0; };
  const bool one_x_scale = p.x_slot_cols >= p.k;
  const bool uniform = one_x_scale && p.block_rows == 0;
  // 16-column chunks need 16-byte aligned rows and must not straddle a scale group or block.
  const bool wide = p.k % 16 == 0 && (one_x_scale || p.x_slot_cols % 16 == 0) &&
                    (p.block_rows == 0 || p.block_cols % 16 == 0) && aligned16(p.xq) && aligned16(p.w);
  if (wide)
    uniform ? launch_tokens<16, true>(p, stream) : launch_tokens<16, false>(p, stream);
  else
    uniform ? launch_tokens<1, true>(p, stream) : launch_tokens<1, false>(p, stream);
}

}  // namespace tern::cuda
