// CudaBackend::linear for INT4 weights and their upload: the tensor-core W4A16 kernel for
// up to kInt4MmaMaxRows rows, else dequantise into a reused BF16 buffer and run cuBLASLt.
// Act-order weights first gather x's columns into the weights' column order.
#include <cuda_fp16.h>

#include <algorithm>

#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/int4_tiles.h"
#include "backend/cuda/linear_int4.cuh"

namespace tern::cuda {
namespace {

constexpr int kWarps = 8;  // warps of a block

__device__ __forceinline__ uint32_t sub_bf16x2(uint32_t a, uint32_t b) {
  const __nv_bfloat162 d =
      __hsub2(*reinterpret_cast<const __nv_bfloat162*>(&a), *reinterpret_cast<const __nv_bfloat162*>(&b));
  return *reinterpret_cast<const uint32_t*>(&d);
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
  uint32_t biased_zero;  // the bf16 pair (128 + zero, 128 + zero)
};

__device__ __forceinline__ GroupWord group_word(int32_t packed) {
  const uint32_t w = uint32_t(packed);
  return {__half2float(__ushort_as_half(uint16_t(w & 0xFFFFu))), (0x4300u + (w >> 16)) * 0x00010001u};
}

// The mma A fragment of one 32-bit word (int4_tiles.h): code - zero for rows L/4 (nibbles
// 0, 4 and 2, 6) and L/4 + 8 (nibbles 1, 5 and 3, 7), exact in bf16. A mask and an OR make
// the bf16 pair 0x4300 | q = 128 + q of two nibbles 16 bits apart (bf16 has 7 mantissa
// bits, so each nibble is shifted to the bottom first); subtracting 128 + zero is exact.
__device__ __forceinline__ uint32_t biased_pair(uint32_t word) { return (word & 0x000F000Fu) | 0x43004300u; }

__device__ __forceinline__ void a_fragment(uint32_t word, const GroupWord& lo, const GroupWord& hi, uint32_t (&a)[4]) {
  a[0] = sub_bf16x2(biased_pair(word), lo.biased_zero);
  a[1] = sub_bf16x2(biased_pair(word >> 4), hi.biased_zero);
  a[2] = sub_bf16x2(biased_pair(word >> 8), lo.biased_zero);
  a[3] = sub_bf16x2(biased_pair(word >> 12), hi.biased_zero);
}

__device__ __forceinline__ void store(float* out, float v) { *out = v; }
__device__ __forceinline__ void store(__nv_bfloat16* out, float v) { *out = __float2bfloat16(v); }
__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const __nv_bfloat16* p) { return __bfloat162float(*p); }

// Grid: (row blocks of 8 tiles = 128 rows) x (slices of K, split.tiles column tiles each).
// Warp w of a block owns row tile w over the block's slice, so the slice of x, staged once
// in shared memory with cp.async, serves 128 rows. Each warp first puts a batch of 16-byte
// weight loads in flight and the block stages its scale words, both before the previous
// kernel has finished (launch_overlapping, common.cuh); then it stages x, and every next
// batch of weights is issued before the current one is used. The A operand is code - zero,
// exact in bf16 from a mask, an OR and one subtraction per pair; a warp accumulates each group's
// sum of (code - zero) x in F32 and adds scale * that when the group ends. Slices are
// added in slice order by the block that finishes a row block last (a counter per row
// block, reset by that block). Lane L ends with rows L/4 and L/4 + 8 of its tile for
// tokens 8 nt + 2 (L%4) + {0,1}. The split depends on the shape and on m only through
// the 8-token tile count, so every output depends only on its own token's inputs.
constexpr int kBlockRows = kWarps * kInt4TileRows;
constexpr int kRowPad = 32;  // bf16 per staged x row: 64 bytes, so a load phase's 8 token rows hit distinct banks

// How K is split over blocks: `slices` blocks per row block, each `tiles` column tiles
// (the last may have fewer). About kBlocksPerSm blocks per SM, so the last wave is short
// (2 fit at once: 128 registers a thread), but at least kMinSliceTiles tiles a warp so a
// block's loads outweigh its set-up, and at most 64 / NT tiles so the staged x slice stays
// within 64 KiB. Chosen on the H200 at Qwen2.5-7B shapes from 2-16 blocks per SM and 4-16
// tiles (docs/performance-history.md, "linear, INT4").
constexpr int kBlocksPerSm = 4;
constexpr int kMinSliceTiles = 8;
struct SplitK {
  int slices = 1, tiles = 1;
};

int sm_count() {
  int device = 0, count = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device));
  return count;
}

SplitK split_k(int64_t n, int64_t k, int nt) {
  const int row_blocks = int(ceil_div(n, kBlockRows)), col_tiles = int(k / kInt4TileCols);
  const int max_tiles = 64 / nt;
  int slices = std::clamp(int(ceil_div(int64_t(kBlocksPerSm) * sm_count(), row_blocks)), 1,
                          std::max(1, col_tiles / kMinSliceTiles));
  slices = std::max(slices, int(ceil_div(col_tiles, max_tiles)));
  const int tiles = int(ceil_div(col_tiles, slices));
  return {int(ceil_div(col_tiles, tiles)), tiles};
}

// Scale words a block stages: its 8 row tiles' words of every group its slice touches.
int slice_groups(int slice_cols, int group_size, int num_groups) {
  return std::min(num_groups, (slice_cols - 1) / group_size + 2);  // c columns touch at most (c - 1) / g + 2 groups
}

// Staged per block: x's slice [m][cols + kRowPad] bf16 and the scale words [8 tiles][groups][16].
size_t shared_bytes(int m, int slice_cols, int group_size, int num_groups) {
  return size_t(m) * (slice_cols + kRowPad) * 2 +
         size_t(kWarps) * slice_groups(slice_cols, group_size, num_groups) * kInt4TileRows * 4;
}

__device__ __forceinline__ void cp_async16(void* shared, const void* global) {
  const unsigned address = unsigned(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(address), "l"(global));
}

template <int NT, typename OutT>
__global__ void __launch_bounds__(kWarps * 32)
    int4_mma_kernel(const __nv_bfloat16* __restrict__ x, const uint4* __restrict__ tiles,
                    const int32_t* __restrict__ words, const OutT* __restrict__ bias, OutT* __restrict__ out,
                    float* __restrict__ partials, int* __restrict__ counters, int m, int n, int k, int group_shift,
                    int num_groups, int tiles_per_slice, int slice_groups) {
  pdl_trigger();
  // Loads in flight per lane: two batches of 8 (64 registers) while the accumulators are
  // few, two of 4 for 3-4 token tiles.
  constexpr int kBatch = NT <= 2 ? 8 : 4;
  extern __shared__ __align__(16) uint8_t shared[];
  __shared__ bool last_block;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row_tiles = n / kInt4TileRows, row_tile = blockIdx.x * kWarps + warp;
  const int slice = blockIdx.y, slices = gridDim.y;
  const int col_tiles = k / kInt4TileCols, first_tile = slice * tiles_per_slice;
  const int slice_tiles = min(tiles_per_slice, col_tiles - first_tile);
  const int first_col = first_tile * kInt4TileCols, cols = slice_tiles * kInt4TileCols;
  const int stride = tiles_per_slice * kInt4TileCols + kRowPad;
  const bool active = row_tile < row_tiles;  // the last row block may have fewer than 8 tiles

  const uint4* lane_tiles = tiles + (int64_t(row_tile) * col_tiles + first_tile) * 32 + lane;
  auto load_batch = [&](int b, uint4(&into)[kBatch]) {
#pragma unroll
    for (int t = 0; t < kBatch; ++t)
      if (active && b * kBatch + t < slice_tiles) into[t] = __ldcs(lane_tiles + (b * kBatch + t) * 32);  // read once
  };
  uint4 codes0[kBatch], codes1[kBatch];
  load_batch(0, codes0);

  // Words [tile][group][16] of this block's tiles, groups first_group .. last_group.
  const int first_group = first_col >> group_shift, last_group = (first_col + cols - 1) >> group_shift;
  const int groups = last_group - first_group + 1;
  int32_t* block_words = reinterpret_cast<int32_t*>(shared + size_t(m) * stride * 2);
  for (int i = threadIdx.x; i < kWarps * groups * (kInt4TileRows / 4); i += kWarps * 32) {
    const int tile = i / (groups * 4), at = i % (groups * 4);
    if (blockIdx.x * kWarps + tile < row_tiles)
      cp_async16(block_words + (tile * slice_groups) * kInt4TileRows + 4 * at,
                 words + (int64_t(blockIdx.x * kWarps + tile) * num_groups + first_group) * kInt4TileRows + 4 * at);
  }
  // Weights and scales are read before the previous kernel has finished; x only after.
  pdl_wait();
  __nv_bfloat16* x_slice = reinterpret_cast<__nv_bfloat16*>(shared);
  const int chunks = cols / 8;
  for (int i = threadIdx.x; i < m * chunks; i += kWarps * 32) {
    const int token = i / chunks, chunk = i % chunks;
    cp_async16(x_slice + token * stride + 8 * chunk, x + int64_t(token) * k + first_col + 8 * chunk);
  }
  asm volatile("cp.async.wait_all;\n" ::);
  __syncthreads();

  float sum[NT][4], group_sum[NT][4];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) sum[nt][e] = group_sum[nt][e] = 0.0f;
  int group = -1;
  GroupWord lo{0.0f, 0u}, hi{0.0f, 0u};  // rows L/4 and L/4 + 8
  const int32_t* tile_words = block_words + warp * slice_groups * kInt4TileRows + lane / 4;
  auto flush = [&] {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        sum[nt][e] = fmaf(e < 2 ? lo.scale : hi.scale, group_sum[nt][e], sum[nt][e]);
        group_sum[nt][e] = 0.0f;
      }
  };
  auto compute_batch = [&](int b, const uint4(&codes)[kBatch]) {
#pragma unroll
    for (int t = 0; t < kBatch; ++t) {
      const int tile = b * kBatch + t;
      if (tile >= slice_tiles) break;
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int col = tile * kInt4TileCols + 32 * half;  // within the slice
        const int g = (first_col + col) >> group_shift;
        if (g != group) {
          if (group >= 0) flush();
          group = g;
          lo = group_word(tile_words[(g - first_group) * kInt4TileRows]);
          hi = group_word(tile_words[(g - first_group) * kInt4TileRows + 8]);
        }
        uint4 xv[NT];
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
          const int token = nt * 8 + lane / 4;
          xv[nt] = token < m ? *reinterpret_cast<const uint4*>(x_slice + token * stride + col + 8 * (lane % 4))
                             : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int kt = 0; kt < 2; ++kt) {
          const uint32_t word = (&codes[t].x)[2 * half + kt];
          uint32_t a[4];
          a_fragment(word, lo, hi, a);
#pragma unroll
          for (int nt = 0; nt < NT; ++nt)
            mma_bf16_16816(group_sum[nt], a, (&xv[nt].x)[2 * kt], (&xv[nt].x)[2 * kt + 1]);
        }
      }
    }
  };
  if (active) {
    const int batches = (slice_tiles + kBatch - 1) / kBatch;
    for (int b = 0; b < batches; b += 2) {
      load_batch(b + 1, codes1);
      compute_batch(b, codes0);
      if (b + 1 >= batches) break;
      load_batch(b + 2, codes0);
      compute_batch(b + 1, codes1);
    }
    if (group >= 0) flush();
  }

  // Lane L's value (nt, e): row 16 tile + L/4 + 8 (e/2), token 8 nt + 2 (L%4) + e%2.
  const int row0 = row_tile * kInt4TileRows + lane / 4;
  if (slices == 1) {
    if (!active) return;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int token = nt * 8 + 2 * (lane % 4) + e % 2, row = row0 + 8 * (e / 2);
        if (token < m) store(out + int64_t(token) * n + row, sum[nt][e] + (bias ? load(bias + row) : 0.0f));
      }
    return;
  }
  if (active) {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int token = nt * 8 + 2 * (lane % 4) + e % 2, row = row0 + 8 * (e / 2);
        if (token < m) partials[(int64_t(slice) * m + token) * n + row] = sum[nt][e];
      }
  }
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) last_block = atomicAdd(counters + blockIdx.x, 1) == slices - 1;
  __syncthreads();
  if (!last_block) return;
  __threadfence();
  const int block_rows = min(kBlockRows, n - int(blockIdx.x) * kBlockRows);
  for (int i = threadIdx.x; i < m * block_rows; i += kWarps * 32) {
    const int token = i / block_rows, row = int(blockIdx.x) * kBlockRows + i % block_rows;
    const float* column = partials + int64_t(token) * n + row;
    const int64_t slice_stride = int64_t(m) * n;
    // Eight loads in flight, then added in slice order (the sum does not depend on timing).
    float v = 0.0f;
    for (int s0 = 0; s0 < slices; s0 += 8) {
      float part[8];
#pragma unroll
      for (int j = 0; j < 8; ++j) part[j] = s0 + j < slices ? __ldcg(column + (s0 + j) * slice_stride) : 0.0f;
#pragma unroll
      for (int j = 0; j < 8; ++j) v += part[j];
    }
    store(out + int64_t(token) * n + row, v + (bias ? load(bias + row) : 0.0f));
  }
  if (threadIdx.x == 0) counters[blockIdx.x] = 0;  // ready for the next launch
}

template <int NT>
void launch_tokens(const Int4Problem& p, cudaStream_t stream) {
  const SplitK split = split_k(p.n, p.k, NT);
  const int slice_cols = split.tiles * kInt4TileCols;
  const dim3 grid(ceil_div(p.n, kBlockRows), split.slices);
  const int groups = slice_groups(slice_cols, int(p.group_size), int(p.num_groups));
  const size_t shared = shared_bytes(int(p.m), slice_cols, int(p.group_size), int(p.num_groups));
  const auto* x = static_cast<const __nv_bfloat16*>(p.x);
  const auto* tiles = static_cast<const uint4*>(p.tiles);
  auto run = [&](auto kernel, const auto* bias, auto* out) {
    // Raised once per instantiation to the most any shape can need (8 NT tokens, a
    // 64 / NT-tile slice, 32-column groups); the first call runs before any graph capture
    // (the runner warms up every batch size).
    static const bool raised = [&] {
      CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      int(shared_bytes(NT * 8, 64 / NT * kInt4TileCols, 32, 1 << 20))));
      return true;
    }();
    (void)raised;
    // A single group spans the whole row: shift every column to group 0.
    const int shift = p.num_groups == 1 ? 30 : __builtin_ctzll(uint64_t(p.group_size));
    launch_overlapping(kernel, grid, kWarps * 32, shared, stream, x, tiles, p.words, bias, out, p.partials, p.counters,
                       int(p.m), int(p.n), int(p.k), shift, int(p.num_groups), split.tiles, groups);
  };
  if (p.out_dtype == DType::kF32)
    run(int4_mma_kernel<NT, float>, static_cast<const float*>(p.bias), static_cast<float*>(p.out));
  else
    run(int4_mma_kernel<NT, __nv_bfloat16>, static_cast<const __nv_bfloat16*>(p.bias),
        static_cast<__nv_bfloat16*>(p.out));
}

// One thread per 16-byte lane word: rows L/4 and L/4 + 8, and in each half of the tile the
// eight columns 8 (L%4) + [0, 8), written as one 16-byte store per row and half.
__global__ void int4_dequantize_kernel(const uint4* __restrict__ tiles, const int32_t* __restrict__ words,
                                       __nv_bfloat16* __restrict__ out, int n, int k, int group_size, int num_groups) {
  pdl_start();
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

__global__ void gather_columns_kernel(const __nv_bfloat16* __restrict__ x, const int32_t* __restrict__ order, int64_t m,
                                      int64_t k, __nv_bfloat16* __restrict__ out) {
  pdl_start();
  const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= m * k) return;
  const int64_t row = index / k, col = index % k;
  out[index] = x[row * k + __ldg(order + col)];
}

}  // namespace

void launch_int4_mma(const Int4Problem& p, cudaStream_t stream) {
  static_assert(kInt4MmaMaxRows == 32, "one instantiation per 8-token tile count");
  switch ((p.m + 7) / 8) {
    case 1:
      return launch_tokens<1>(p, stream);
    case 2:
      return launch_tokens<2>(p, stream);
    case 3:
      return launch_tokens<3>(p, stream);
    case 4:
      return launch_tokens<4>(p, stream);
    default:
      throw error("cuda linear (INT4): the tensor-core kernel takes at most ", kInt4MmaMaxRows, " rows, got ", p.m);
  }
}

size_t int4_mma_partials_bytes(int64_t n, int64_t k) {
  size_t bytes = 0;  // the most any m up to kInt4MmaMaxRows needs
  for (int nt = 1; nt * 8 <= kInt4MmaMaxRows; ++nt) {
    const SplitK split = split_k(n, k, nt);
    if (split.slices > 1) bytes = std::max(bytes, size_t(split.slices) * size_t(8 * nt * n) * sizeof(float));
  }
  return bytes;
}

size_t int4_mma_counters_bytes(int64_t n) { return size_t(ceil_div(n, kBlockRows)) * sizeof(int); }

void launch_int4_dequantize(const Int4Problem& p, void* out, cudaStream_t stream) {
  const int64_t threads = p.n / kInt4TileRows * (p.k / kInt4TileCols) * 32;
  launch(int4_dequantize_kernel, ceil_div(threads, 256), 256, 0, stream, static_cast<const uint4*>(p.tiles), p.words,
         static_cast<__nv_bfloat16*>(out), int(p.n), int(p.k), int(p.group_size), int(p.num_groups));
}

void launch_gather_columns(const void* x, const int32_t* order, int64_t m, int64_t k, void* out, cudaStream_t stream) {
  launch(gather_columns_kernel, ceil_div(m * k, 256), 256, 0, stream, static_cast<const __nv_bfloat16*>(x), order, m, k,
         static_cast<__nv_bfloat16*>(out));
}

}  // namespace tern::cuda

namespace tern {

Int4Weight CudaBackend::upload_int4(const Int4Weight& host) {
  Int4Weight tiles = cuda::pack_int4_tiles(host);
  for (Tensor* t : {&tiles.codes, &tiles.scales, &tiles.group_index})
    if (!t->empty()) *t = upload(*t, t->dtype);
  return tiles;
}

void CudaBackend::linear_int4(const Tensor& x, const LinearWeight& w, const Tensor& out) {
  const char* op = "linear (INT4)";
  const Int4Weight& q = w.int4;
  if (q.layout != Int4Layout::kMmaTiles || q.codes.device != Device::kCuda)
    throw error("cuda linear: the INT4 weight was not uploaded with CudaBackend::upload_int4");
  cuda::expect(x, DType::kBF16, op, "x");
  if (out.device != Device::kCuda || (out.dtype != DType::kBF16 && out.dtype != DType::kF32))
    throw error("cuda linear: out must be a CUDA BF16 or F32 tensor, got ", dtype_name(out.dtype));
  const int64_t m = x.rows(), k = x.cols(), n = q.out_features();
  if (q.in_features() != k || out.rows() != m || out.cols() != n)
    throw error("cuda linear: x ", x.shape_str(), " times INT4 weight [", n, ", ", q.in_features(), "] into out ",
                out.shape_str());
  if (!w.bias.empty()) {
    cuda::expect(w.bias, out.dtype, op, "bias (in the output's dtype)");
    cuda::expect_matrix(w.bias, 1, n, op, "bias");
  }
  if (m == 0) return;
  use_device();
  const void* input = x.data;
  if (!q.group_index.empty()) {
    void* gathered = int4_columns_workspace_.get(size_t(m * k) * 2, stream_);
    cuda::launch_gather_columns(x.data, q.group_index.ptr<const int32_t>(), m, k, gathered, stream_);
    input = gathered;
  }
  const cuda::Int4Problem problem{.m = m,
                                  .n = n,
                                  .k = k,
                                  .x = input,
                                  .tiles = q.codes.data,
                                  .words = q.scales.ptr<const int32_t>(),
                                  .group_size = q.group_size,
                                  .num_groups = q.num_groups(),
                                  .bias = w.bias.empty() ? nullptr : w.bias.data,
                                  .out = out.data,
                                  .out_dtype = out.dtype};
  const bool aligned = reinterpret_cast<uintptr_t>(input) % 16 == 0;
  if (m <= cuda::kInt4MmaMaxRows && aligned) {
    cuda::Int4Problem p = problem;
    p.partials = static_cast<float*>(int4_partials_workspace_.get(cuda::int4_mma_partials_bytes(n, k), stream_));
    p.counters = static_cast<int*>(int4_counters_workspace_.get(cuda::int4_mma_counters_bytes(n), stream_));
    cuda::launch_int4_mma(p, stream_);
    return;
  }
  void* dense = int4_dense_workspace_.get(size_t(n * k) * 2, stream_);
  cuda::launch_int4_dequantize(problem, dense, stream_);
  gemm_->run(
      {.m = m, .n = n, .k = k, .x = input, .w = dense, .bias = problem.bias, .out = out.data, .out_dtype = out.dtype},
      stream_);
}

}  // namespace tern
