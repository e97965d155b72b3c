// Device building blocks shared by the prefill and decode attention kernels: tensor-core
// MMA (mma.sync m16n8k16, BF16 in, FP32 accumulate; sm_80 and later), ldmatrix,
// cp.async tile loads through the block table, and the online-softmax update.
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
__device__ __forceinline__ int first_visible_key(const Params& p, int pos) {
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

// The K and V tiles of kKeysPerTile keys of KV head kv_head, gathered from the paged
// cache at `slots`.
template <int D>
__device__ __forceinline__ void load_kv_tiles_async(bf16* k_tile, bf16* v_tile, const Params& p, const int* slots,
                                                    int kv_head) {
  auto row_of = [&](const bf16* cache, int r) -> const bf16* {
    const int slot = slots[r];
    return slot < 0 ? nullptr : cache + (int64_t(slot) * p.num_kv_heads + kv_head) * D;
  };
  load_tile_async<D>(k_tile, kKeysPerTile, p.k_cache, [&](int r) { return row_of(p.k_cache, r); });
  load_tile_async<D>(v_tile, kKeysPerTile, p.v_cache, [&](int r) { return row_of(p.v_cache, r); });
}

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
