#include <cuda_fp8.h>

#include "backend/cuda/common.cuh"
#include "backend/cuda/fp8_quantize.cuh"

namespace tern::cuda {
namespace {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr float kMinAmax = 1e-12f;  // quant/fp8_weight.cpp's: an all-zero group keeps a positive scale
constexpr float kE4m3Max = 448.0f;

template <int kVec>
__device__ __forceinline__ void load(const __nv_bfloat16* p, float (&v)[kVec]) {
  if constexpr (kVec == 8) {
    const uint4 raw = __ldg(reinterpret_cast<const uint4*>(p));
    const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 f = __bfloat1622float2(pairs[i]);
      v[2 * i] = f.x;
      v[2 * i + 1] = f.y;
    }
  } else {
    v[0] = __bfloat162float(p[0]);
  }
}

// e4m3 codes of v / s. The conversion rounds to nearest even and saturates finite values
// to +-448, which is the CPU's clamp to [-448, 448] followed by rounding; NaN stays NaN.
template <int kVec>
__device__ __forceinline__ void store_codes(uint8_t* p, const float (&v)[kVec], float s) {
  if constexpr (kVec == 8) {
    uint16_t codes[4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
      codes[i] = __nv_cvt_float2_to_fp8x2(make_float2(__fdiv_rn(v[2 * i], s), __fdiv_rn(v[2 * i + 1], s)),
                                          __NV_SATFINITE, __NV_E4M3);
    *reinterpret_cast<uint2*>(p) = *reinterpret_cast<const uint2*>(codes);
  } else {
    *p = __nv_cvt_float_to_fp8(__fdiv_rn(v[0], s), __NV_SATFINITE, __NV_E4M3);
  }
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// One block per token. A group spanning the row is shared by the whole block; smaller
// groups go to one warp each. A team reads its group twice (amax, then codes); the second
// read comes from L1. kVec values per access: 8 (16-byte loads) when the row and groups
// allow, else 1.
template <int kVec>
__global__ void __launch_bounds__(kThreads)
    fp8_quantize_kernel(const __nv_bfloat16* __restrict__ x, uint8_t* __restrict__ xq, float* __restrict__ scales,
                        int m, int k, int group, float static_scale, int slot_cols) {
  pdl_start();
  __shared__ float warp_amax[kWarps];
  const int token = blockIdx.x, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const __nv_bfloat16* row = x + int64_t(token) * k;
  uint8_t* codes = xq + int64_t(token) * k;
  const bool block_team = group >= k;
  const int rank = block_team ? int(threadIdx.x) : lane, team = block_team ? kThreads : 32;
  const int groups = block_team ? 1 : (k + group - 1) / group;
  for (int g = block_team ? 0 : warp; g < groups; g += kWarps) {
    const int begin = g * group, end = block_team ? k : min(k, begin + group);
    float s = static_scale;
    if (s == 0.0f) {
      float amax = 0.0f;
      for (int c = begin + rank * kVec; c < end; c += team * kVec) {
        float v[kVec];
        load<kVec>(row + c, v);
#pragma unroll
        for (int i = 0; i < kVec; ++i) amax = fmaxf(amax, fabsf(v[i]));
      }
      amax = warp_max(amax);
      if (block_team) {  // one group per block: the shared array is written once
        if (lane == 0) warp_amax[warp] = amax;
        __syncthreads();
#pragma unroll
        for (int w = 0; w < kWarps; ++w) amax = fmaxf(amax, warp_amax[w]);
      }
      s = __fdiv_rn(fmaxf(amax, kMinAmax), kE4m3Max);
    }
    for (int c = begin + rank * kVec; c < end; c += team * kVec) {
      float v[kVec];
      load<kVec>(row + c, v);
      store_codes<kVec>(codes + c, v, s);
    }
    for (int j = (begin + slot_cols - 1) / slot_cols + rank; j * slot_cols < end; j += team)
      scales[int64_t(j) * m + token] = s;
  }
}

}  // namespace

void launch_fp8_quantize(const Fp8QuantizeProblem& p, cudaStream_t stream) {
  const bool wide = p.k % 8 == 0 && (p.group >= p.k || p.group % 8 == 0) &&
                    reinterpret_cast<uintptr_t>(p.x) % 16 == 0 && reinterpret_cast<uintptr_t>(p.xq) % 8 == 0;
  const int group = int(std::min(p.group, p.k));
  const auto* x = static_cast<const __nv_bfloat16*>(p.x);
  auto* xq = static_cast<uint8_t*>(p.xq);
  if (wide)
    launch(fp8_quantize_kernel<8>, unsigned(p.m), kThreads, 0, stream, x, xq, p.scales, int(p.m), int(p.k), group,
           p.static_scale, int(p.slot_cols));
  else
    launch(fp8_quantize_kernel<1>, unsigned(p.m), kThreads, 0, stream, x, xq, p.scales, int(p.m), int(p.k), group,
           p.static_scale, int(p.slot_cols));
}

}  // namespace tern::cuda
