// Device building blocks shared by the prefill and decode attention kernels: tensor-core
// MMA (mma.sync m16n8k16, BF16 in, FP32 accumulate; sm_80 and later), ldmatrix,
// cp.async tile loads through the block table, the K/V tile pipeline of a BF16 or FP8
// cache (KvTiles), and the online-softmax update.
//
// Fragment layouts (PTX ISA, "mma.m16n8k16"): a warp's 16x8 FP32 accumulator gives lane
// l the rows g = l/4 and g+8 at columns 2(l%4) and 2(l%4)+1. Shared-memory tiles are
// [rows, D] BF16 with each row's 16-byte chunks XOR-swizzled by the row, so the 8 rows an
// ldmatrix phase reads land in 8 different bank groups.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/attention_params.h"

namespace tern::cuda::attention {

__device__ __forceinline__ uint32_t smem_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, asynchronous; with valid false the destination is zeroed and
// nothing is read.
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, bool valid) {
  const int bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
// Waits until at most `pending` of the most recently committed groups are still in flight.
template <int pending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(pending) : "memory");
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t address, uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(address));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t address, uint32_t& r0, uint32_t& r1, uint32_t& r2,
                                                  uint32_t& r3) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(address));
}

// acc[16x8] += a[16x16] * b[16x8].
__device__ __forceinline__ void mma_16816(float (&acc)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  uint32_t bits;
  memcpy(&bits, &v, sizeof(bits));
  return bits;
}

__device__ __forceinline__ int lane_id() { return threadIdx.x % 32; }
__device__ __forceinline__ int warp_id() { return threadIdx.x / 32; }

// Element offset of (row, 16-byte chunk) in a swizzled [rows, D] tile.
template <int D>
struct Tile {
  static constexpr int kChunks = D / 8;
  static constexpr int kSwizzle = kChunks < 8 ? kChunks : 8;
  __device__ __forceinline__ static int offset(int row, int chunk) {
    return row * D + ((chunk ^ (row & (kSwizzle - 1))) << 3);
  }
};

// Loads `rows` rows of D values into a tile; row r comes from src(r), or is zeroed where
// src(r) is null (`readable` is then handed to cp.async, which reads nothing from it).
// The copies are asynchronous: commit, wait and barrier before use.
template <int D, typename RowSource>
__device__ __forceinline__ void load_tile_async(bf16* tile, int rows, const bf16* readable, RowSource src) {
  constexpr int kChunks = D / 8;
  for (int idx = threadIdx.x; idx < rows * kChunks; idx += kThreads) {
    const int r = idx / kChunks, c = idx % kChunks;
    const bf16* row = src(r);
    cp_async_16(smem_address(tile + Tile<D>::offset(r, c)), row ? row + c * 8 : readable, row != nullptr);
  }
}

// The first key a query at context position pos sees: 0, or with a sliding window W the
// oldest of the last W keys, pos - W + 1.
template <typename Cache>
__device__ __forceinline__ int first_visible_key(const Params<Cache>& p, int pos) {
  return p.sliding_window > 0 ? max(0, pos - p.sliding_window + 1) : 0;
}

// slots[r] = cache slot of context position key0 + r for r < kKeysPerTile, or -1 at and
// past key_end (those rows are zero-filled, and the block table is not read there).
__device__ __forceinline__ void find_slots(int* slots, const int32_t* table, int block_size, int key0, int key_end) {
  for (int r = threadIdx.x; r < kKeysPerTile; r += kThreads) {
    const int pos = key0 + r;
    slots[r] = pos < key_end ? table[pos / block_size] * block_size + pos % block_size : -1;
  }
}

// Where row r of a K/V tile comes from: the cache row of KV head kv_head at slots[r], or
// null where slots[r] < 0.
template <int D, typename Cache>
__device__ __forceinline__ const Cache* cache_row(const Cache* cache, const Params<Cache>& p, const int* slots, int r,
                                                  int kv_head) {
  const int slot = slots[r];
  return slot < 0 ? nullptr : cache + (int64_t(slot) * p.num_kv_heads + kv_head) * D;
}

// A pair of e4m3 codes (bits 0-7 and 8-15 of `codes`) as the bf16x2 of their values: the
// code's sign, exponent and mantissa bits moved into bf16 positions give value * 2^-120
// exactly (subnormal codes become bf16 subnormals), and a bf16 multiply by 2^120 restores
// it, exactly. Every finite e4m3 value is a bf16 value, so nothing rounds; the NaN codes
// (0x7F, 0xFF, which only a NaN activation stores) read as +-480. sm_90 has no e4m3 -> bf16
// cvt, and the e4m3 -> f16x2 one would need three more cvts to reach bf16.
__device__ __forceinline__ uint32_t e4m3x2_to_bf16x2(uint32_t codes) {
  const uint32_t spread = __byte_perm(codes, 0u, 0x1404);  // code 0 in byte 1, code 1 in byte 3
  const uint32_t bits = ((spread >> 4) & 0x07F007F0u) | (spread & 0x80008000u);
  __nv_bfloat162 v;
  memcpy(&v, &bits, sizeof(bits));
  v = __hmul2(v, __bfloat162bfloat162(__ushort_as_bfloat16(0x7B80)));  // 0x7B80: 2^120
  uint32_t out;
  memcpy(&out, &v, sizeof(out));
  return out;
}

// The shared memory of a block's K/V tiles (kBytes after the Q tile) and its
// double-buffered pipeline, for a cache of Cache elements. A kernel runs
//   prologue: load_async(0, slots[0]), commit, load_async(1, slots[1]) if any, commit;
//   tile j:   cp_async_wait<1>, __syncthreads, find_slots(slots[j & 1]) of tile j + 2,
//             step(j & 1, compute, refill)
// where compute(k_tile, v_tile) reads the tiles as swizzled BF16 and refill loads tile
// j + 2 into stage j & 1 if there is one. step commits one cp.async group (possibly empty),
// so "all but the newest group" stays "tile j + 1". merge_space() is kMergeBytes that a
// warp may write as soon as its last step returns, other warps' computes notwithstanding
// (the decode kernel's merge).
template <typename Cache, int D>
struct KvTiles;

// BF16: two stages of K and V, filled by cp.async straight from the cache and read by
// ldmatrix where they landed; a stage is refilled once every warp has computed on it.
template <int D>
struct KvTiles<bf16, D> {
  static constexpr int kTileElems = kKeysPerTile * D;
  static constexpr int kBytes = 4 * kTileElems * int(sizeof(bf16));
  bf16* k;  // [2][kTileElems]
  bf16* v;  // [2][kTileElems]

  __device__ explicit KvTiles(unsigned char* smem)
      : k(reinterpret_cast<bf16*>(smem)), v(reinterpret_cast<bf16*>(smem) + 2 * kTileElems) {}

  __device__ __forceinline__ void load_async(int stage, const Params<bf16>& p, const int* slots, int kv_head) {
    load_tile_async<D>(k + stage * kTileElems, kKeysPerTile, p.k_cache,
                       [&](int r) { return cache_row<D>(p.k_cache, p, slots, r, kv_head); });
    load_tile_async<D>(v + stage * kTileElems, kKeysPerTile, p.v_cache,
                       [&](int r) { return cache_row<D>(p.v_cache, p, slots, r, kv_head); });
  }

  template <typename Compute, typename Refill>
  __device__ __forceinline__ void step(int stage, Compute compute, Refill refill) {
    compute(k + stage * kTileElems, v + stage * kTileElems);
    __syncthreads();  // every warp is done with this stage; slots for tile j+2 are visible
    refill();
    cp_async_commit();
  }

  // The K/V stages: after the last step's trailing barrier nothing touches them.
  static constexpr int kMergeBytes = kBytes;
  __device__ float* merge_space() const { return reinterpret_cast<float*>(k); }
};

// FP8: two stages of raw e4m3 K and V rows ([kKeysPerTile, D] bytes each, unswizzled:
// cp.async writes and the converting reads both go in 16-byte chunks), and one BF16 K and V
// tile that each stage is converted into before the warps compute on it. The shared memory
// equals the BF16 path's (two byte stages plus one 2-byte tile = two 2-byte stages); the
// cache traffic is half. A stage is free again right after its conversion, so tile j + 2's
// codes are requested before tile j's compute, not after it.
template <int D>
struct KvTiles<fp8, D> {
  static constexpr int kTileElems = kKeysPerTile * D;
  static constexpr int kStagedBytes = 4 * kTileElems;  // [2 stages][K, V][kTileElems] codes
  static constexpr int kBytes = kStagedBytes + 2 * kTileElems * int(sizeof(bf16));
  static constexpr int kCodeChunks = D / 16;  // 16-byte chunks of codes in a row
  uint8_t* staged;
  bf16* k;  // [kTileElems], swizzled like the BF16 path's tiles
  bf16* v;

  __device__ explicit KvTiles(unsigned char* smem)
      : staged(smem),
        k(reinterpret_cast<bf16*>(smem + kStagedBytes)),
        v(reinterpret_cast<bf16*>(smem + kStagedBytes) + kTileElems) {}

  __device__ __forceinline__ uint8_t* staged_tile(int stage, int which) const {
    return staged + (2 * stage + which) * kTileElems;
  }

  __device__ __forceinline__ void load_async(int stage, const Params<fp8>& p, const int* slots, int kv_head) {
#pragma unroll
    for (int which = 0; which < 2; ++which) {
      const fp8* cache = which == 0 ? p.k_cache : p.v_cache;
      uint8_t* tile = staged_tile(stage, which);
      for (int idx = threadIdx.x; idx < kKeysPerTile * kCodeChunks; idx += kThreads) {
        const int r = idx / kCodeChunks, c = idx % kCodeChunks;
        const fp8* row = cache_row<D>(cache, p, slots, r, kv_head);
        cp_async_16(smem_address(tile + r * D + c * 16), row ? row + c * 16 : cache, row != nullptr);
      }
    }
  }

  // Stage `stage`'s codes into the BF16 tiles: a thread takes 16 codes (one 16-byte
  // read) and writes their two 16-byte BF16 chunks. Threads c = 4..7 of a row write their
  // chunks in the other order, so each store of 8 threads lands in 8 different bank groups
  // (head_dim 64 and 128).
  __device__ __forceinline__ void convert(int stage) {
#pragma unroll
    for (int which = 0; which < 2; ++which) {
      const uint8_t* codes = staged_tile(stage, which);
      bf16* tile = which == 0 ? k : v;
      for (int idx = threadIdx.x; idx < kKeysPerTile * kCodeChunks; idx += kThreads) {
        const int r = idx / kCodeChunks, c = idx % kCodeChunks;
        const uint4 raw = *reinterpret_cast<const uint4*>(codes + r * D + c * 16);
        const uint4 lo = {e4m3x2_to_bf16x2(raw.x), e4m3x2_to_bf16x2(raw.x >> 16), e4m3x2_to_bf16x2(raw.y),
                          e4m3x2_to_bf16x2(raw.y >> 16)};
        const uint4 hi = {e4m3x2_to_bf16x2(raw.z), e4m3x2_to_bf16x2(raw.z >> 16), e4m3x2_to_bf16x2(raw.w),
                          e4m3x2_to_bf16x2(raw.w >> 16)};
        const bool swap = (c >> 2) & 1;  // selects, not an indexed array: that would live in local memory
        *reinterpret_cast<uint4*>(tile + Tile<D>::offset(r, 2 * c + swap)) = swap ? hi : lo;
        *reinterpret_cast<uint4*>(tile + Tile<D>::offset(r, 2 * c + !swap)) = swap ? lo : hi;
      }
    }
  }

  template <typename Compute, typename Refill>
  __device__ __forceinline__ void step(int stage, Compute compute, Refill refill) {
    convert(stage);
    // The BF16 tiles are complete; the stage's codes are read, so it can refill now, and
    // the slots for tile j+2 are visible. (The barrier before this step's convert, at the
    // top of the tile, kept the previous compute's reads ahead of the new tiles.)
    __syncthreads();
    refill();
    cp_async_commit();
    compute(k, v);
  }

  // The code stages: the last step's convert has read them before its barrier, and no
  // refill follows.
  static constexpr int kMergeBytes = kStagedBytes;
  __device__ float* merge_space() const { return reinterpret_cast<float*>(staged); }
};

// s[MB][NB] = Q * K^T for MB blocks of 16 query rows [q_row0, q_row0 + 16 MB) of the Q
// tile and keys [key_row0, key_row0 + 8 NB) of the K tile. Each K fragment is loaded once
// and used for every row block; Q fragments are re-read from shared memory.
template <int D, int MB, int NB>
__device__ __forceinline__ void query_key_scores(const bf16* q_tile, int q_row0, const bf16* k_tile, int key_row0,
                                                 float (&s)[MB][NB][4]) {
  static_assert(NB % 2 == 0, "key blocks come in pairs of 8");
  const int lane = lane_id();
#pragma unroll
  for (int mb = 0; mb < MB; ++mb)
#pragma unroll
    for (int nb = 0; nb < NB; ++nb) s[mb][nb][0] = s[mb][nb][1] = s[mb][nb][2] = s[mb][nb][3] = 0.0f;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    uint32_t a[MB][4];
#pragma unroll
    for (int mb = 0; mb < MB; ++mb) {
      // Matrices: rows +0..7 and +8..15 of dims lo, then the same rows of dims hi.
      const int row = q_row0 + mb * 16 + lane % 16;
      ldmatrix_x4(smem_address(q_tile + Tile<D>::offset(row, kk * 2 + lane / 16)), a[mb][0], a[mb][1], a[mb][2],
                  a[mb][3]);
    }
#pragma unroll
    for (int np = 0; np < NB / 2; ++np) {
      // Matrices: keys +0..7 dims lo, keys +0..7 dims hi, keys +8..15 lo, keys +8..15 hi.
      const int row = key_row0 + np * 16 + (lane / 16) * 8 + lane % 8;
      const int chunk = kk * 2 + (lane / 8) % 2;
      uint32_t b0, b1, b2, b3;
      ldmatrix_x4(smem_address(k_tile + Tile<D>::offset(row, chunk)), b0, b1, b2, b3);
#pragma unroll
      for (int mb = 0; mb < MB; ++mb) {
        mma_16816(s[mb][2 * np], a[mb], b0, b1);
        mma_16816(s[mb][2 * np + 1], a[mb], b2, b3);
      }
    }
  }
}

// Online softmax over one tile of scores s (raw q.k, -inf where masked) for this lane's
// two rows: updates the running max m (log2 domain) and partial sum l, rescales o, and
// leaves the probabilities in s. m and l are per row; l is this lane's share of the row
// (the four lanes of a row are summed once at the end).
template <int NB, int OB>
__device__ __forceinline__ void online_softmax(float (&s)[NB][4], float (&m)[2], float (&l)[2], float (&o)[OB][4],
                                               float scale_log2) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float tile_max = -INFINITY;
#pragma unroll
    for (int nb = 0; nb < NB; ++nb) tile_max = fmaxf(tile_max, fmaxf(s[nb][2 * r], s[nb][2 * r + 1]));
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
    const float m_new = fmaxf(m[r], tile_max * scale_log2);
    // A row that has seen only masked keys keeps m = -inf; subtracting 0 then keeps
    // every exponent -inf (p = 0) instead of NaN.
    const float m_base = m_new == -INFINITY ? 0.0f : m_new;
    const float alpha = exp2f(m[r] - m_base);
    m[r] = m_new;
    float sum = 0.0f;
#pragma unroll
    for (int nb = 0; nb < NB; ++nb) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const float p = exp2f(fmaf(s[nb][2 * r + e], scale_log2, -m_base));
        s[nb][2 * r + e] = p;
        sum += p;
      }
    }
    l[r] = l[r] * alpha + sum;
#pragma unroll
    for (int ob = 0; ob < OB; ++ob) {
      o[ob][2 * r] *= alpha;
      o[ob][2 * r + 1] *= alpha;
    }
  }
}

// o[MB][16 x D] += p[MB][16 x 16 KB] * V for keys [key_row0, key_row0 + 16 KB) of the V
// tile; p is the probabilities online_softmax left in s (2 KB blocks of 8 keys). Each V
// fragment is loaded once and used for every row block.
template <int D, int KB, int MB>
__device__ __forceinline__ void accumulate_values(const float (&p)[MB][2 * KB][4], const bf16* v_tile, int key_row0,
                                                  float (&o)[MB][D / 8][4]) {
  const int lane = lane_id();
#pragma unroll
  for (int kk = 0; kk < KB; ++kk) {
    uint32_t a[MB][4];
#pragma unroll
    for (int mb = 0; mb < MB; ++mb) {
      a[mb][0] = pack_bf16(p[mb][2 * kk][0], p[mb][2 * kk][1]);
      a[mb][1] = pack_bf16(p[mb][2 * kk][2], p[mb][2 * kk][3]);
      a[mb][2] = pack_bf16(p[mb][2 * kk + 1][0], p[mb][2 * kk + 1][1]);
      a[mb][3] = pack_bf16(p[mb][2 * kk + 1][2], p[mb][2 * kk + 1][3]);
    }
#pragma unroll
    for (int dp = 0; dp < D / 16; ++dp) {
      // Transposed matrices: keys +0..7 dims lo, keys +8..15 dims lo, keys +0..7 hi, +8..15 hi.
      const int row = key_row0 + kk * 16 + ((lane / 8) % 2) * 8 + lane % 8;
      const int chunk = dp * 2 + lane / 16;
      uint32_t b0, b1, b2, b3;
      ldmatrix_x4_trans(smem_address(v_tile + Tile<D>::offset(row, chunk)), b0, b1, b2, b3);
#pragma unroll
      for (int mb = 0; mb < MB; ++mb) {
        mma_16816(o[mb][2 * dp], a[mb], b0, b1);
        mma_16816(o[mb][2 * dp + 1], a[mb], b2, b3);
      }
    }
  }
}

// Adds the four lanes' shares of each row's sum (after the last tile).
__device__ __forceinline__ void reduce_row_sums(float (&l)[2]) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
  }
}

}  // namespace tern::cuda::attention
