#include <cuda_fp16.h>

#include <algorithm>

#include "backend/cuda/common.cuh"
#include "backend/cuda/int4_tiles.h"
#include "backend/cuda/linear_int4.cuh"

namespace tern::cuda {
namespace {

constexpr int kWarps = 8;  // warps of a block

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

__device__ __forceinline__ GroupWord group_word(int32_t packed) {
  const uint32_t w = uint32_t(packed);
  const uint32_t zero = 0x4300u + (w >> 16);
  return {__half2float(__ushort_as_half(uint16_t(w & 0xFFFFu))), zero * 0x10001u};
}

__device__ __forceinline__ void store(float* out, float v) { *out = v; }
__device__ __forceinline__ void store(__nv_bfloat16* out, float v) { *out = __float2bfloat16(v); }
__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const __nv_bfloat16* p) { return __bfloat162float(*p); }

// Grid: (n / 16 row tiles) x (slices of K). A block computes its 16 rows over one slice of
// kSliceCols<NT> columns: its 8 warps first put all their 16-byte weight loads in flight
// (tiles w, w + 8, ... of the slice), then the block stages the slice of x and the
// slice's scale words in shared memory with cp.async, so one memory round trip covers the
// whole block. Each warp accumulates each group's integer dot products (code - zero,
// exact in bf16) in F32 and adds them times the group's scale; the warps' sums are added
// in warp order, then the slices' in slice order by the block that finishes last (a
// counter per row tile, reset by that block). Lane L ends with rows L/4 and L/4 + 8 for
// tokens 8 nt + 2 (L%4) + {0,1}. Every output depends only on its own token's inputs.
template <int NT>
constexpr int kTilesPerWarp = NT <= 4 ? 4 : 2;  // keeps x's slice in shared memory at 64 tokens
template <int NT>
constexpr int kSliceCols = kWarps * kTilesPerWarp<NT> * kInt4TileCols;
constexpr int kRowPad = 32;  // bf16 per staged x row: 64 bytes, so a load phase's 8 token rows hit distinct banks

template <int NT>
constexpr int slice_groups_max(int group_size) {
  return kSliceCols<NT> / group_size + 2;
}

template <int NT>
size_t shared_bytes(int m, int group_size, int num_groups) {
  const int groups = group_size >= kSliceCols<NT> ? 2 : slice_groups_max<NT>(group_size);
  return size_t(m) * (kSliceCols<NT> + kRowPad) * 2 + size_t(std::min(groups, num_groups)) * kInt4TileRows * 4;
}

__device__ __forceinline__ void cp_async16(void* shared, const void* global) {
  const unsigned address = unsigned(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(address), "l"(global));
}

template <int NT, typename OutT>
__global__ void __launch_bounds__(kWarps * 32)
    int4_mma_kernel(const __nv_bfloat16* __restrict__ x, const uint4* __restrict__ tiles,
                    const int32_t* __restrict__ words, const OutT* __restrict__ bias, OutT* __restrict__ out,
                    float* __restrict__ partials, int* __restrict__ counters, int m, int n, int k, int group_size,
                    int num_groups) {
  constexpr int kTiles = kTilesPerWarp<NT>, kCols = kSliceCols<NT>, kStride = kCols + kRowPad;
  extern __shared__ __align__(16) uint8_t shared[];
  __shared__ float warp_sums[kWarps][NT * 4][32];
  __shared__ bool last_block;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row_tile = blockIdx.x, slice = blockIdx.y, slices = gridDim.y;
  const int col_tiles = k / kInt4TileCols, first_tile = slice * (kCols / kInt4TileCols);
  const int slice_tiles = min(kCols / kInt4TileCols, col_tiles - first_tile);
  const int first_col = first_tile * kInt4TileCols, cols = slice_tiles * kInt4TileCols;

  uint4 codes[kTiles];
  const uint4* lane_tiles = tiles + (int64_t(row_tile) * col_tiles + first_tile) * 32 + lane;
#pragma unroll
  for (int t = 0; t < kTiles; ++t)
    if (warp + kWarps * t < slice_tiles) codes[t] = __ldcs(lane_tiles + (warp + kWarps * t) * 32);  // read once

  __nv_bfloat16* x_slice = reinterpret_cast<__nv_bfloat16*>(shared);
  const int chunks = cols / 8;
  for (int i = threadIdx.x; i < m * chunks; i += kWarps * 32) {
    const int token = i / chunks, chunk = i % chunks;
    cp_async16(x_slice + token * kStride + 8 * chunk, x + int64_t(token) * k + first_col + 8 * chunk);
  }
  const int first_group = first_col / group_size, last_group = (first_col + cols - 1) / group_size;
  int32_t* slice_words = reinterpret_cast<int32_t*>(shared + size_t(m) * kStride * 2);
  const int32_t* block_words = words + (int64_t(row_tile) * num_groups + first_group) * kInt4TileRows;
  for (int i = threadIdx.x; i < (last_group - first_group + 1) * kInt4TileRows / 4; i += kWarps * 32)
    cp_async16(slice_words + 4 * i, block_words + 4 * i);
  asm volatile("cp.async.wait_all;\n" ::);
  __syncthreads();

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
#pragma unroll
  for (int t = 0; t < kTiles; ++t) {
    const int tile = warp + kWarps * t;
    if (tile >= slice_tiles) break;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int col = tile * kInt4TileCols + 32 * half;  // within the slice
      const int g = (first_col + col) / group_size;
      if (g != group) {
        if (group >= 0) flush();
        group = g;
        lo = group_word(slice_words[(g - first_group) * kInt4TileRows + lane / 4]);
        hi = group_word(slice_words[(g - first_group) * kInt4TileRows + lane / 4 + 8]);
      }
      uint4 xv[NT];
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
        const int token = nt * 8 + lane / 4;
        xv[nt] = token < m ? *reinterpret_cast<const uint4*>(x_slice + token * kStride + col + 8 * (lane % 4))
                           : make_uint4(0, 0, 0, 0);
      }
#pragma unroll
      for (int kt = 0; kt < 2; ++kt) {
        const uint32_t word = (&codes[t].x)[2 * half + kt];
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
  if (group >= 0) flush();

#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) warp_sums[warp][nt * 4 + e][lane] = sum[nt][e];
  __syncthreads();
  // Value i of the block: (nt, e) = i / 32 of lane i % 32's registers.
  auto block_value = [&](int i, int& token, int& row) {
    const int value = i / 32, owner = i % 32, e = value % 4;
    token = (value / 4) * 8 + 2 * (owner % 4) + e % 2;
    row = row_tile * kInt4TileRows + owner / 4 + 8 * (e / 2);
    float v = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) v += warp_sums[w][value][owner];
    return v;
  };
  if (slices == 1) {
    for (int i = threadIdx.x; i < NT * 4 * 32; i += kWarps * 32) {
      int token, row;
      const float v = block_value(i, token, row);
      if (token < m) store(out + int64_t(token) * n + row, v + (bias ? load(bias + row) : 0.0f));
    }
    return;
  }
  for (int i = threadIdx.x; i < NT * 4 * 32; i += kWarps * 32) {
    int token, row;
    const float v = block_value(i, token, row);
    if (token < m) partials[(int64_t(slice) * m + token) * n + row] = v;
  }
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) last_block = atomicAdd(counters + row_tile, 1) == slices - 1;
  __syncthreads();
  if (!last_block) return;
  __threadfence();
  for (int i = threadIdx.x; i < m * kInt4TileRows; i += kWarps * 32) {
    const int token = i / kInt4TileRows, row = row_tile * kInt4TileRows + i % kInt4TileRows;
    float v = 0.0f;
    for (int s = 0; s < slices; ++s) v += __ldcg(partials + (int64_t(s) * m + token) * n + row);
    store(out + int64_t(token) * n + row, v + (bias ? load(bias + row) : 0.0f));
  }
  if (threadIdx.x == 0) counters[row_tile] = 0;  // ready for the next launch
}

template <int NT>
void launch_tokens(const Int4Problem& p, cudaStream_t stream) {
  const int slices = int(ceil_div(p.k, kSliceCols<NT>));
  const dim3 grid(unsigned(p.n / kInt4TileRows), unsigned(slices));
  const size_t shared = shared_bytes<NT>(int(p.m), int(p.group_size), int(p.num_groups));
  const auto* x = static_cast<const __nv_bfloat16*>(p.x);
  const auto* tiles = static_cast<const uint4*>(p.tiles);
  auto launch = [&](auto kernel, const auto* bias, auto* out) {
    // Raised once per instantiation to what 64 tokens and 32-column groups need; the first
    // call runs before any graph capture (the runner warms up every batch size).
    static const bool raised = [&] {
      CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      int(shared_bytes<NT>(NT * 8, 32, 1 << 20))));
      return true;
    }();
    (void)raised;
    kernel<<<grid, kWarps * 32, shared, stream>>>(x, tiles, p.words, bias, out, p.partials, p.counters, int(p.m),
                                                  int(p.n), int(p.k), int(p.group_size), int(p.num_groups));
  };
  if (p.out_dtype == DType::kF32)
    launch(int4_mma_kernel<NT, float>, static_cast<const float*>(p.bias), static_cast<float*>(p.out));
  else
    launch(int4_mma_kernel<NT, __nv_bfloat16>, static_cast<const __nv_bfloat16*>(p.bias),
           static_cast<__nv_bfloat16*>(p.out));
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

size_t int4_mma_partials_bytes(int64_t m, int64_t n, int64_t k) {
  const int slices = int(ceil_div(k, m <= 32 ? kSliceCols<4> : kSliceCols<8>));
  return slices > 1 ? size_t(slices) * size_t(m) * size_t(n) * sizeof(float) : 0;
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
