#include "backend/cuda/attention_common.cuh"
#include "backend/cuda/attention_prefill.cuh"
#include "backend/cuda/common.cuh"

namespace tern::cuda::attention {
namespace {

constexpr int kRowBlocks = 2;                         // 16-row MMA blocks per warp
constexpr int kQueryRows = kWarps * kRowBlocks * 16;  // query tokens per block: 128

template <typename Cache, int D>
constexpr int prefill_smem_bytes() {
  return kQueryRows * D * int(sizeof(bf16)) + KvTiles<Cache, D>::kBytes;  // Q, then the K/V pipeline
}

// Block = (query head, sequence, query tile of 128 tokens), the tiles numbered from the
// last: blocks start in grid order, so every head's heaviest causal tiles (the most keys)
// start first and the light ones fill the last wave. Each warp owns 32 query rows
// (two MMA row blocks sharing every K and V fragment it loads). K/V tiles are
// double-buffered: tile j+2 loads while the block computes tile j (KvTiles). The work for
// a row depends only on its own sequence, so results do not change with the batch.
template <typename Cache, int D>
__global__ void __launch_bounds__(kThreads) prefill_kernel(const Params<Cache> p) {
  pdl_start();
  extern __shared__ __align__(16) unsigned char smem[];
  bf16* q_tile = reinterpret_cast<bf16*>(smem);
  KvTiles<Cache, D> tiles(smem + kQueryRows * D * sizeof(bf16));
  __shared__ int slots[2][kKeysPerTile];

  const int head = blockIdx.x, seq = blockIdx.y, m0 = (gridDim.z - 1 - blockIdx.z) * kQueryRows;
  const int q_begin = p.query_start[seq], q_len = p.query_start[seq + 1] - q_begin;
  if (q_len < 2 || m0 >= q_len) return;
  const int seq_len = p.seq_lens[seq];
  const int first_pos = seq_len - q_len;  // context position of the sequence's first query token
  const int rows = min(kQueryRows, q_len - m0);
  // Keys [key_begin, key_end) are visible to some row of this tile: the first row's window
  // starts earliest, the last row's position ends latest.
  const int key_begin = first_visible_key(p, first_pos + m0), key_end = first_pos + m0 + rows;
  const int num_tiles = (key_end - key_begin + kKeysPerTile - 1) / kKeysPerTile;
  const int kv_head = head / (p.num_q_heads / p.num_kv_heads);
  const int32_t* table = p.block_tables + int64_t(seq) * p.max_blocks_per_seq;
  const int64_t q_stride = int64_t(p.num_q_heads) * D;
  const bf16* q_rows = p.q + (int64_t(q_begin) + m0) * q_stride + head * D;

  // Prologue: Q with tile 0 in one group, tile 1 in the next (an empty group if none).
  load_tile_async<D>(q_tile, kQueryRows, p.q,
                     [&](int r) -> const bf16* { return r < rows ? q_rows + r * q_stride : nullptr; });
  find_slots(slots[0], table, p.block_size, key_begin, key_end);
  find_slots(slots[1], table, p.block_size, key_begin + kKeysPerTile, key_end);
  __syncthreads();
  tiles.load_async(0, p, slots[0], kv_head);
  cp_async_commit();
  if (num_tiles > 1) tiles.load_async(1, p, slots[1], kv_head);
  cp_async_commit();

  const int warp = warp_id(), lane = lane_id();
  const int warp_row0 = warp * kRowBlocks * 16;                     // the warp's first row in the tile
  const int warp_first_pos = first_pos + m0 + warp_row0;            // and its context position
  const int warp_first_key = first_visible_key(p, warp_first_pos);  // the first key any of its rows sees
  const int warp_last_first_key = first_visible_key(p, warp_first_pos + kRowBlocks * 16 - 1);
  float o[kRowBlocks][D / 8][4];
#pragma unroll
  for (int mb = 0; mb < kRowBlocks; ++mb)
#pragma unroll
    for (int ob = 0; ob < D / 8; ++ob) o[mb][ob][0] = o[mb][ob][1] = o[mb][ob][2] = o[mb][ob][3] = 0.0f;
  float m[kRowBlocks][2], l[kRowBlocks][2];
#pragma unroll
  for (int mb = 0; mb < kRowBlocks; ++mb) m[mb][0] = m[mb][1] = -INFINITY, l[mb][0] = l[mb][1] = 0.0f;

  for (int j = 0; j < num_tiles; ++j) {
    const int stage = j & 1;
    cp_async_wait<1>();
    __syncthreads();  // tile j (and Q) landed for every thread's copies
    if (j + 2 < num_tiles) find_slots(slots[stage], table, p.block_size, key_begin + (j + 2) * kKeysPerTile, key_end);

    // The tile in two halves of 32 keys: half the score registers, so nothing spills.
    const auto compute = [&](const bf16* k_tile, const bf16* v_tile) {
#pragma unroll 1
      for (int half = 0; half < 2; ++half) {
        constexpr int kHalf = kKeysPerTile / 2;
        const int key0 = key_begin + j * kKeysPerTile + half * kHalf;
        // Keys that all slid out of this warp's rows' windows add nothing: skip them (the
        // warp alone decides, and nothing in here synchronises the block).
        if (key0 + kHalf <= warp_first_key) continue;
        float s[kRowBlocks][kHalf / 8][4];
        query_key_scores<D, kRowBlocks, kHalf / 8>(q_tile, warp_row0, k_tile, half * kHalf, s);
        // These keys reach past some row's position, or precede some row's window.
        if (key0 + kHalf - 1 > warp_first_pos || key0 < warp_last_first_key) {
#pragma unroll
          for (int mb = 0; mb < kRowBlocks; ++mb)
#pragma unroll
            for (int nb = 0; nb < kHalf / 8; ++nb)
#pragma unroll
              for (int e = 0; e < 4; ++e) {
                const int key = key0 + nb * 8 + (lane % 4) * 2 + (e & 1);
                const int row_pos = warp_first_pos + mb * 16 + lane / 4 + (e >= 2 ? 8 : 0);
                if (key > row_pos || key < first_visible_key(p, row_pos)) s[mb][nb][e] = -INFINITY;
              }
        }
#pragma unroll
        for (int mb = 0; mb < kRowBlocks; ++mb) online_softmax(s[mb], m[mb], l[mb], o[mb], p.scale_log2);
        accumulate_values<D, kHalf / 16, kRowBlocks>(s, v_tile, half * kHalf, o);
      }
    };
    tiles.step(stage, compute, [&] {
      if (j + 2 < num_tiles) tiles.load_async(stage, p, slots[stage], kv_head);
    });
  }

#pragma unroll
  for (int mb = 0; mb < kRowBlocks; ++mb) {
    reduce_row_sums(l[mb]);
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = warp_row0 + mb * 16 + lane / 4 + r * 8;
      if (row >= rows) continue;
      const float inv = p.out_scale / l[mb][r];  // out_scale: V's FP8 scale, 1 for BF16
      bf16* dst = p.out + (int64_t(q_begin) + m0 + row) * q_stride + head * D + (lane % 4) * 2;
#pragma unroll
      for (int ob = 0; ob < D / 8; ++ob)
        *reinterpret_cast<__nv_bfloat162*>(dst + ob * 8) =
            __floats2bfloat162_rn(o[mb][ob][2 * r] * inv, o[mb][ob][2 * r + 1] * inv);
    }
  }
}

template <typename Cache, int D>
void launch_for_dim(const Params<Cache>& p, int max_query_len, cudaStream_t stream) {
  constexpr int kSmem = prefill_smem_bytes<Cache, D>();
  static const bool configured = [] {
    CUDA_CHECK(cudaFuncSetAttribute(prefill_kernel<Cache, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem));
    return true;
  }();
  (void)configured;
  const dim3 grid(unsigned(p.num_q_heads), unsigned(p.num_seqs), ceil_div(max_query_len, kQueryRows));
  launch(prefill_kernel<Cache, D>, grid, kThreads, kSmem, stream, p);
}

}  // namespace

template <typename Cache>
void launch_prefill(const Params<Cache>& p, int head_dim, int max_query_len, cudaStream_t stream) {
  if (p.num_seqs == 0 || max_query_len < 2) return;
  switch (head_dim) {
    case 16:
      return launch_for_dim<Cache, 16>(p, max_query_len, stream);
    case 32:
      return launch_for_dim<Cache, 32>(p, max_query_len, stream);
    case 64:
      return launch_for_dim<Cache, 64>(p, max_query_len, stream);
    case 128:
      return launch_for_dim<Cache, 128>(p, max_query_len, stream);
    default:
      throw error("cuda paged_attention: head_dim ", head_dim, " is not supported (16, 32, 64, 128)");
  }
}

template void launch_prefill(const Params<bf16>&, int, int, cudaStream_t);
template void launch_prefill(const Params<fp8>&, int, int, cudaStream_t);

}  // namespace tern::cuda::attention
