#include "backend/cuda/common.cuh"
#include "backend/cuda/gemv.cuh"

namespace tern::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kRowsPerWarp = 2;
constexpr int kUnroll = 4;  // 16-byte chunks of each row in flight per lane

__device__ __forceinline__ void dot8(float& acc, const uint4& w, const uint4& x) {
  const __nv_bfloat162* wp = reinterpret_cast<const __nv_bfloat162*>(&w);
  const __nv_bfloat162* xp = reinterpret_cast<const __nv_bfloat162*>(&x);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 a = __bfloat1622float2(wp[i]), b = __bfloat1622float2(xp[i]);
    acc = fmaf(a.x, b.x, acc);
    acc = fmaf(a.y, b.y, acc);
  }
}

__device__ __forceinline__ void store(float* out, float v) { *out = v; }
__device__ __forceinline__ void store(__nv_bfloat16* out, float v) { *out = __float2bfloat16(v); }
__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const __nv_bfloat16* p) { return __bfloat162float(*p); }

// Lane l takes chunks l, l + 32, ... of its warp's rows; each lane's sum runs in chunk
// order and the warp adds the lanes in a fixed tree, so a row's result depends only on
// its inputs.
template <int M, typename OutT>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    gemv_kernel(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ w, const OutT* __restrict__ bias,
                OutT* __restrict__ out, int n, int k) {
  pdl_start();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row0 = (blockIdx.x * kWarpsPerBlock + warp) * kRowsPerWarp;
  if (row0 >= n) return;
  const int rows = min(kRowsPerWarp, n - row0);
  const int chunks = k / 8;
  const uint4* wr[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
    wr[r] = reinterpret_cast<const uint4*>(w + int64_t(row0 + min(r, rows - 1)) * k);
  const uint4* xr = reinterpret_cast<const uint4*>(x);

  float acc[kRowsPerWarp][M];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
    for (int m = 0; m < M; ++m) acc[r][m] = 0.0f;

  int c = lane;
  for (; c + 32 * (kUnroll - 1) < chunks; c += 32 * kUnroll) {
    uint4 wv[kRowsPerWarp][kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) wv[r][u] = __ldcs(wr[r] + c + 32 * u);  // read once: stream
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
#pragma unroll
      for (int m = 0; m < M; ++m) {
        const uint4 xv = __ldg(xr + int64_t(m) * chunks + c + 32 * u);
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) dot8(acc[r][m], wv[r][u], xv);
      }
  }
  for (; c < chunks; c += 32) {
    uint4 wv[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) wv[r] = __ldcs(wr[r] + c);
#pragma unroll
    for (int m = 0; m < M; ++m) {
      const uint4 xv = __ldg(xr + int64_t(m) * chunks + c);
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) dot8(acc[r][m], wv[r], xv);
    }
  }

#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
    for (int m = 0; m < M; ++m)
#pragma unroll
      for (int offset = 16; offset > 0; offset /= 2) acc[r][m] += __shfl_xor_sync(0xffffffffu, acc[r][m], offset);

        // Lane (r * M + m) writes output (m, row0 + r).
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
    for (int m = 0; m < M; ++m)
      if (lane == r * M + m && r < rows) {
        const int row = row0 + r;
        store(out + int64_t(m) * n + row, acc[r][m] + (bias ? load(bias + row) : 0.0f));
      }
}

template <int M>
void launch_rows(const GemmProblem& p, cudaStream_t stream) {
  const unsigned blocks = ceil_div(p.n, kWarpsPerBlock * kRowsPerWarp);
  const auto* x = static_cast<const __nv_bfloat16*>(p.x);
  const auto* w = static_cast<const __nv_bfloat16*>(p.w);
  if (p.out_dtype == DType::kF32)
    launch(gemv_kernel<M, float>, blocks, kWarpsPerBlock * 32, 0, stream, x, w, static_cast<const float*>(p.bias),
           static_cast<float*>(p.out), int(p.n), int(p.k));
  else
    launch(gemv_kernel<M, __nv_bfloat16>, blocks, kWarpsPerBlock * 32, 0, stream, x, w,
           static_cast<const __nv_bfloat16*>(p.bias), static_cast<__nv_bfloat16*>(p.out), int(p.n), int(p.k));
}

}  // namespace

bool gemv_supports(const GemmProblem& p) {
  auto aligned16 = [](const void* q) { return reinterpret_cast<uintptr_t>(q) % 16 == 0; };
  return p.m >= 1 && p.m <= kGemvMaxRows && p.k % 8 == 0 && p.n < (int64_t(1) << 31) && aligned16(p.x) &&
         aligned16(p.w);
}

void launch_gemv(const GemmProblem& p, cudaStream_t stream) {
  static_assert(kRowsPerWarp * kGemvMaxRows <= 32, "one lane per output of a warp");
  if (p.m == 1)
    launch_rows<1>(p, stream);
  else
    launch_rows<2>(p, stream);
}

}  // namespace tern::cuda
