#include <cuda_fp16.h>

#include "backend/cuda/common.cuh"
#include "backend/cuda/int4_tiles.h"
#include "backend/cuda/linear_int4.cuh"

namespace tern::cuda {
namespace {

constexpr int kWarps = 8;   // warps of a block, each taking a contiguous share of K
constexpr int kUnroll = 4;  // 16-byte weight loads each lane has in flight

// Nibbles i and i + 4 of `word` as the bf16 pair (128 + q_i, 128 + q_{i+4}).
__device__ __forceinline__ uint32_t biased_pair(uint32_t word, int shift) {
  return ((word >> shift) & 0x000F000Fu) | 0x43004300u;
}

// a - b on bf16 pairs; exact here, since both are integers in [128, 144].
__device__ __forceinline__ uint32_t sub_bf16x2(uint32_t a, uint32_t b) {
  __nv_bfloat162 r = __hsub2(*reinterpret_cast<__nv_bfloat162*>(&a), *reinterpret_cast<__nv_bfloat162*>(&b));
  return *reinterpret_cast<uint32_t*>(&r);
}

__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

struct GroupWord {
  float scale;
  uint32_t biased_zero;  // (128 + zero) as a bf16 pair
};

__device__ __forceinline__ GroupWord group_word(const int32_t* words, int64_t at) {
  const uint32_t w = uint32_t(__ldg(words + at));
  const uint32_t zero = 0x4300u + (w >> 16);
  return {__half2float(__ushort_as_half(uint16_t(w & 0xFFFFu))), zero * 0x10001u};
}

__device__ __forceinline__ void store(float* out, float v) { *out = v; }
__device__ __forceinline__ void store(__nv_bfloat16* out, float v) { *out = __float2bfloat16(v); }
__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const __nv_bfloat16* p) { return __bfloat162float(*p); }

// One block per 16 output rows. Warp w takes the 64-column tiles [w S/8, (w+1) S/8) and
// accumulates each group's integer dot products (code - zero, exact in bf16) in F32, then
// adds them times the group's scale; the warps' sums are added in warp order. Thread
// (lane L) ends with the outputs of rows L/4 and L/4 + 8 for tokens 8 nt + 2 (L%4) + {0,1}.
// Every output depends only on its own token's inputs and a fixed summation order.
template <int NT, typename OutT>
__global__ void __launch_bounds__(kWarps * 32)
    int4_mma_kernel(const __nv_bfloat16* __restrict__ x, const uint4* __restrict__ tiles,
                    const int32_t* __restrict__ words, const OutT* __restrict__ bias, OutT* __restrict__ out, int m,
                    int n, int k, int group_size, int num_groups) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row_tile = blockIdx.x, col_tiles = k / kInt4TileCols;
  const int tile_begin = warp * col_tiles / kWarps, tile_end = (warp + 1) * col_tiles / kWarps;
  const uint4* lane_tiles = tiles + int64_t(row_tile) * col_tiles * 32 + lane;
  const int32_t* tile_words = words + int64_t(row_tile) * num_groups * kInt4TileRows + lane / 4;

  const __nv_bfloat16* x_rows[NT];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
    const int token = nt * 8 + lane / 4;
    x_rows[nt] = token < m ? x + int64_t(token) * k + 8 * (lane % 4) : nullptr;
  }

  float sum[NT][4], group_sum[NT][4];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) sum[nt][e] = group_sum[nt][e] = 0.0f;
  int group = -1;
  GroupWord lo{0.0f, 0u}, hi{0.0f, 0u};  // rows L/4 and L/4 + 8
  auto flush = [&] {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      sum[nt][0] = fmaf(lo.scale, group_sum[nt][0], sum[nt][0]);
      sum[nt][1] = fmaf(lo.scale, group_sum[nt][1], sum[nt][1]);
      sum[nt][2] = fmaf(hi.scale, group_sum[nt][2], sum[nt][2]);
      sum[nt][3] = fmaf(hi.scale, group_sum[nt][3], sum[nt][3]);
#pragma unroll
      for (int e = 0; e < 4; ++e) group_sum[nt][e] = 0.0f;
    }
  };

  for (int t0 = tile_begin; t0 < tile_end; t0 += kUnroll) {
    uint4 codes[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
      if (t0 + u < tile_end) codes[u] = __ldcs(lane_tiles + int64_t(t0 + u) * 32);  // read once: stream
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      if (t0 + u >= tile_end) break;
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int col = (t0 + u) * kInt4TileCols + 32 * half;
        const int g = col / group_size;
        if (g != group) {
          if (group >= 0) flush();
          group = g;
          lo = group_word(tile_words, int64_t(g) * kInt4TileRows);
          hi = group_word(tile_words, int64_t(g) * kInt4TileRows + 8);
        }
        uint4 xv[NT];
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
          xv[nt] = x_rows[nt] ? __ldg(reinterpret_cast<const uint4*>(x_rows[nt] + col)) : make_uint4(0, 0, 0, 0);
#pragma unroll
        for (int kt = 0; kt < 2; ++kt) {
          const uint32_t word = (&codes[u].x)[2 * half + kt];
          const uint32_t a[4] = {sub_bf16x2(biased_pair(word, 0), lo.biased_zero),
                                 sub_bf16x2(biased_pair(word, 4), hi.biased_zero),
                                 sub_bf16x2(biased_pair(word, 8), lo.biased_zero),
                                 sub_bf16x2(biased_pair(word, 12), hi.biased_zero)};
#pragma unroll
          for (int nt = 0; nt < NT; ++nt)
            mma_bf16_16816(group_sum[nt], a, (&xv[nt].x)[2 * kt], (&xv[nt].x)[2 * kt + 1]);
        }
      }
    }
  }
  if (group >= 0) flush();

  __shared__ float partial[kWarps][NT * 4][32];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) partial[warp][nt * 4 + e][lane] = sum[nt][e];
  __syncthreads();
  for (int i = threadIdx.x; i < NT * 4 * 32; i += kWarps * 32) {
    const int value = i / 32, owner = i % 32, nt = value / 4, e = value % 4;
    const int token = nt * 8 + 2 * (owner % 4) + e % 2;
    if (token >= m) continue;
    float v = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) v += partial[w][value][owner];
    const int row = row_tile * kInt4TileRows + owner / 4 + 8 * (e / 2);
    store(out + int64_t(token) * n + row, v + (bias ? load(bias + row) : 0.0f));
  }
}

template <int NT>
void launch_tokens(const Int4Problem& p, cudaStream_t stream) {
  const unsigned blocks = unsigned(p.n / kInt4TileRows);
  const auto* x = static_cast<const __nv_bfloat16*>(p.x);
  const auto* tiles = static_cast<const uint4*>(p.tiles);
  if (p.out_dtype == DType::kF32)
    int4_mma_kernel<NT, float><<<blocks, kWarps * 32, 0, stream>>>(
        x, tiles, p.words, static_cast<const float*>(p.bias), static_cast<float*>(p.out), int(p.m), int(p.n),
        int(p.k), int(p.group_size), int(p.num_groups));
  else
    int4_mma_kernel<NT, __nv_bfloat16><<<blocks, kWarps * 32, 0, stream>>>(
        x, tiles, p.words, static_cast<const __nv_bfloat16*>(p.bias), static_cast<__nv_bfloat16*>(p.out), int(p.m),
        int(p.n), int(p.k), int(p.group_size), int(p.num_groups));
  CUDA_LAUNCH_CHECK();
}

// One thread per 16-byte lane word: rows L/4 and L/4 + 8, and in each half of the tile the
// eight columns 8 (L%4) + [0, 8), written as one 16-byte store per row and half.
__global__ void int4_dequantize_kernel(const uint4* __restrict__ tiles, const int32_t* __restrict__ words,
                                       __nv_bfloat16* __restrict__ out, int n, int k, int group_size,
                                       int num_groups) {
  const int col_tiles = k / kInt4TileCols;
  const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= int64_t(n / kInt4TileRows) * col_tiles * 32) return;
  const int lane = int(index % 32);
  const int64_t tile = index / 32;
  const int col_tile = int(tile % col_tiles), row_tile = int(tile / col_tiles);
  const uint4 codes = __ldcs(tiles + index);
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int col = col_tile * kInt4TileCols + 32 * half + 8 * (lane % 4);
    const int g = col / group_size;
#pragma unroll
    for (int row_half = 0; row_half < 2; ++row_half) {
      const int row = row_tile * kInt4TileRows + lane / 4 + 8 * row_half;
      const uint32_t w = uint32_t(__ldg(words + (int64_t(row_tile) * num_groups + g) * kInt4TileRows + row % 16));
      const float scale = __half2float(__ushort_as_half(uint16_t(w & 0xFFFFu)));
      const int zero = int(w >> 16);
      __align__(16) __nv_bfloat16 values[8];
#pragma unroll
      for (int c = 0; c < 8; ++c) {
        // Column offset c = 4 kt + 2 b + a lives in word 2 half + kt, nibble row_half + 2 b + 4 a.
        const int kt = c / 4, b = (c / 2) % 2, a = c % 2;
        const uint32_t word = (&codes.x)[2 * half + kt];
        const int q = int((word >> (4 * (row_half + 2 * b + 4 * a))) & 0xFu);
        values[c] = __float2bfloat16(scale * float(q - zero));
      }
      *reinterpret_cast<uint4*>(out + int64_t(row) * k + col) = *reinterpret_cast<const uint4*>(values);
    }
  }
}

__global__ void gather_columns_kernel(const __nv_bfloat16* __restrict__ x, const int32_t* __restrict__ order,
                                      int64_t m, int64_t k, __nv_bfloat16* __restrict__ out) {
  const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= m * k) return;
  const int64_t row = index / k, col = index % k;
  out[index] = x[row * k + __ldg(order + col)];
}

}  // namespace

void launch_int4_mma(const Int4Problem& p, cudaStream_t stream) {
  // Token tiles of 8; 5 and 7 round up to the next instantiation (their padding tokens
  // read as zeros and are never stored).
  switch ((p.m + 7) / 8) {
    case 1: return launch_tokens<1>(p, stream);
    case 2: return launch_tokens<2>(p, stream);
    case 3: return launch_tokens<3>(p, stream);
    case 4: return launch_tokens<4>(p, stream);
    case 5:
    case 6: return launch_tokens<6>(p, stream);
    case 7:
    case 8: return launch_tokens<8>(p, stream);
    default: throw error("cuda linear (INT4): the tensor-core kernel takes at most ", kInt4MmaMaxRows, " rows, got ", p.m);
  }
}

void launch_int4_dequantize(const Int4Problem& p, void* out, cudaStream_t stream) {
  const int64_t threads = p.n / kInt4TileRows * (p.k / kInt4TileCols) * 32;
  int4_dequantize_kernel<<<ceil_div(threads, 256), 256, 0, stream>>>(
      static_cast<const uint4*>(p.tiles), p.words, static_cast<__nv_bfloat16*>(out), int(p.n), int(p.k),
      int(p.group_size), int(p.num_groups));
  CUDA_LAUNCH_CHECK();
}

void launch_gather_columns(const void* x, const int32_t* order, int64_t m, int64_t k, void* out, cudaStream_t stream) {
  gather_columns_kernel<<<ceil_div(m * k, 256), 256, 0, stream>>>(static_cast<const __nv_bfloat16*>(x), order, m, k,
                                                                  static_cast<__nv_bfloat16*>(out));
  CUDA_LAUNCH_CHECK();
}

}  // namespace tern::cuda
