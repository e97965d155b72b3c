#include "backend/cuda/attention_common.cuh"
#include "backend/cuda/attention_decode.cuh"
#include "backend/cuda/common.cuh"

namespace tern::cuda::attention {
namespace {

constexpr int kHeadRows = 16;  // query heads per block: one MMA tile of rows

// How a context of seq_len keys is cut: partition_keys (a multiple of the tile) and the
// count, both functions of seq_len alone.
struct Partitioning {
  int count;
  int keys;
};

__host__ __device__ inline int first_guess(int seq_len) {
  const int wanted = (seq_len + kMinPartitionKeys - 1) / kMinPartitionKeys;
  return wanted < 1 ? 1 : (wanted > kMaxPartitions ? kMaxPartitions : wanted);
}

// The keys a sequence's single query token sees: the last sliding_window of its
// seq_len, or all of them; they start at key first_visible_key(p, seq_len - 1).
template <typename Cache>
__device__ inline int visible_keys(const Params<Cache>& p, int seq_len) {
  return seq_len - first_visible_key(p, seq_len - 1);
}

__device__ inline Partitioning partitioning(int seq_len) {
  if (seq_len <= 0) return {0, kKeysPerTile};
  const int guess = first_guess(seq_len);
  const int per = (seq_len + guess - 1) / guess;
  const int keys = (per + kKeysPerTile - 1) / kKeysPerTile * kKeysPerTile;
  return {(seq_len + keys - 1) / keys, keys};  // rounding up the size may leave fewer, never empty, partitions
}

// Where the partial results of a partition go: out [S, Hq, P, D] normalised by the
// partition's own sum, lse [S, Hq, P] its log2-sum-exp2 (max + log2 sum).
struct Partials {
  float* out = nullptr;
  float* lse = nullptr;
  int stride = 0;  // P: max_partitions(max_seq_len)
};

Partials partials_in(void* workspace, int num_seqs, int num_q_heads, int head_dim, int max_seq_len) {
  Partials partials;
  partials.stride = max_partitions(max_seq_len);
  partials.out = static_cast<float*>(workspace);
  partials.lse = partials.out + size_t(num_seqs) * num_q_heads * partials.stride * head_dim;
  return partials;
}

template <typename Cache, int D>
constexpr int decode_smem_bytes() {
  return kHeadRows * D * int(sizeof(bf16)) + KvTiles<Cache, D>::kBytes;  // Q, then the K/V pipeline
}

// Block = (partition, KV head x head chunk, sequence). Every warp holds the same 16
// query-head rows and takes its own 16 keys of each 64-key tile; K/V tiles are
// double-buffered (tile j+2 loads while tile j is used; KvTiles). The four warps' running
// states are merged at the end in warp order.
template <typename Cache, int D>
__global__ void __launch_bounds__(kThreads) decode_kernel(const Params<Cache> p, const Partials partials) {
  pdl_start();
  extern __shared__ __align__(16) unsigned char smem[];
  bf16* q_tile = reinterpret_cast<bf16*>(smem);
  KvTiles<Cache, D> tiles(smem + kHeadRows * D * sizeof(bf16));
  __shared__ int slots[2][kKeysPerTile];
  __shared__ float warp_max[kWarps][kHeadRows], warp_sum[kWarps][kHeadRows];

  const int seq = blockIdx.z, partition = blockIdx.x;
  const int q_begin = p.query_start[seq];
  if (p.query_start[seq + 1] - q_begin != 1) return;
  const int seq_len = p.seq_lens[seq];
  const Partitioning parts = partitioning(visible_keys(p, seq_len));
  if (partition >= parts.count) return;
  const int key_begin = first_visible_key(p, seq_len - 1) + partition * parts.keys;
  const int key_end = min(seq_len, key_begin + parts.keys);
  const int num_tiles = (key_end - key_begin + kKeysPerTile - 1) / kKeysPerTile;

  const int group = p.num_q_heads / p.num_kv_heads;
  const int chunks = (group + kHeadRows - 1) / kHeadRows;
  const int kv_head = blockIdx.y / chunks, chunk = blockIdx.y % chunks;
  const int head0 = kv_head * group + chunk * kHeadRows;
  const int heads = min(kHeadRows, group - chunk * kHeadRows);
  const int32_t* table = p.block_tables + int64_t(seq) * p.max_blocks_per_seq;
  const int64_t q_stride = int64_t(p.num_q_heads) * D;
  const bf16* q_rows = p.q + int64_t(q_begin) * q_stride + head0 * D;

  // Prologue: Q with tile 0 in one group, tile 1 in the next (an empty group if none).
  load_tile_async<D>(q_tile, kHeadRows, p.q,
                     [&](int r) -> const bf16* { return r < heads ? q_rows + r * D : nullptr; });
  find_slots(slots[0], table, p.block_size, key_begin, key_end);
  find_slots(slots[1], table, p.block_size, key_begin + kKeysPerTile, key_end);
  __syncthreads();
  tiles.load_async(0, p, slots[0], kv_head);
  cp_async_commit();
  if (num_tiles > 1) tiles.load_async(1, p, slots[1], kv_head);
  cp_async_commit();

  const int warp = warp_id(), lane = lane_id();
  float o[1][D / 8][4];
#pragma unroll
  for (int ob = 0; ob < D / 8; ++ob) o[0][ob][0] = o[0][ob][1] = o[0][ob][2] = o[0][ob][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

  for (int j = 0; j < num_tiles; ++j) {
    const int stage = j & 1;
    const int key0 = key_begin + j * kKeysPerTile;
    cp_async_wait<1>();
    __syncthreads();  // tile j (and Q) landed for every thread's copies
    if (j + 2 < num_tiles) find_slots(slots[stage], table, p.block_size, key0 + 2 * kKeysPerTile, key_end);

    const auto compute = [&](const bf16* k_tile, const bf16* v_tile) {
      float s[1][2][4];
      query_key_scores<D, 1, 2>(q_tile, 0, k_tile, warp * 16, s);
      if (key0 + kKeysPerTile > key_end) {  // the last tile: keys past the context are masked
#pragma unroll
        for (int nb = 0; nb < 2; ++nb)
#pragma unroll
          for (int e = 0; e < 4; ++e)
            if (key0 + warp * 16 + nb * 8 + (lane % 4) * 2 + (e & 1) >= key_end) s[0][nb][e] = -INFINITY;
      }
      online_softmax(s[0], m, l, o[0], p.scale_log2);
      accumulate_values<D, 1, 1>(s, v_tile, warp * 16, o);
    };
    tiles.step(stage, compute, [&] {
      if (j + 2 < num_tiles) tiles.load_async(stage, p, slots[stage], kv_head);
    });
  }

  // Merge the warps: each publishes its max, sum and unnormalised output (tiles'
  // merge_space, idle now, holds the [kWarps, 16, D] outputs), then the block combines
  // them in warp order.
  reduce_row_sums(l);
  float* warp_out = tiles.merge_space();
  static_assert(kWarps * kHeadRows * D * sizeof(float) <= KvTiles<Cache, D>::kMergeBytes, "merge buffer fits");
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = lane / 4 + r * 8;
    if (lane % 4 == 0) {
      warp_max[warp][row] = m[r];
      warp_sum[warp][row] = l[r];
    }
#pragma unroll
    for (int ob = 0; ob < D / 8; ++ob) {
      float* dst = warp_out + (warp * kHeadRows + row) * D + ob * 8 + (lane % 4) * 2;
      dst[0] = o[0][ob][2 * r];
      dst[1] = o[0][ob][2 * r + 1];
    }
  }
  __syncthreads();

  const bool single = parts.count == 1;
  for (int idx = threadIdx.x; idx < heads * D; idx += kThreads) {
    const int row = idx / D, col = idx % D;
    float row_max = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) row_max = fmaxf(row_max, warp_max[w][row]);
    float sum = 0.0f, acc = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float weight = exp2f(warp_max[w][row] - row_max);  // 0 for a warp that saw only masked keys
      sum += warp_sum[w][row] * weight;
      acc += warp_out[(w * kHeadRows + row) * D + col] * weight;
    }
    const int head = head0 + row;
    // out_scale (V's FP8 scale) on the normalised partition output: the merge is linear.
    if (single) {
      p.out[int64_t(q_begin) * q_stride + head * D + col] = __float2bfloat16(acc / sum * p.out_scale);
    } else {
      const int64_t at = (int64_t(seq) * p.num_q_heads + head) * partials.stride + partition;
      partials.out[at * D + col] = acc / sum * p.out_scale;
      if (col == 0) partials.lse[at] = row_max + log2f(sum);
    }
  }
}

// Block = (query head, sequence): merges a multi-partition sequence's partials in
// partition order.
template <typename Cache, int D>
__global__ void __launch_bounds__(kThreads) merge_kernel(const Params<Cache> p, const Partials partials) {
  pdl_start();
  const int head = blockIdx.x, seq = blockIdx.y;
  const int q_begin = p.query_start[seq];
  if (p.query_start[seq + 1] - q_begin != 1) return;
  const int count = min(partitioning(visible_keys(p, p.seq_lens[seq])).count, partials.stride);
  if (count <= 1) return;
  const int64_t base = (int64_t(seq) * p.num_q_heads + head) * partials.stride;
  const float* lse = partials.lse + base;
  float lse_max = -INFINITY;
  for (int i = 0; i < count; ++i) lse_max = fmaxf(lse_max, lse[i]);
  float total = 0.0f;
  for (int i = 0; i < count; ++i) total += exp2f(lse[i] - lse_max);
  for (int col = threadIdx.x; col < D; col += kThreads) {
    float acc = 0.0f;
    for (int i = 0; i < count; ++i) acc += exp2f(lse[i] - lse_max) * partials.out[(base + i) * D + col];
    p.out[int64_t(q_begin) * p.num_q_heads * D + head * D + col] = __float2bfloat16(acc / total);
  }
}

template <typename Cache, int D>
void launch_for_dim(const Params<Cache>& p, const Partials& partials, cudaStream_t stream) {
  constexpr int kSmem = decode_smem_bytes<Cache, D>();
  static const bool configured = [] {
    CUDA_CHECK(cudaFuncSetAttribute(decode_kernel<Cache, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem));
    return true;
  }();
  (void)configured;
  const int group = p.num_q_heads / p.num_kv_heads;
  const int chunks = (group + kHeadRows - 1) / kHeadRows;
  const dim3 grid(unsigned(partials.stride), unsigned(p.num_kv_heads * chunks), unsigned(p.num_seqs));
  launch(decode_kernel<Cache, D>, grid, kThreads, kSmem, stream, p, partials);
  if (partials.stride > 1) {
    launch(merge_kernel<Cache, D>, dim3(unsigned(p.num_q_heads), unsigned(p.num_seqs)), kThreads, 0, stream, p,
           partials);
  }
}

}  // namespace

int max_partitions(int max_seq_len) { return first_guess(max_seq_len); }

size_t decode_workspace_bytes(int num_seqs, int num_q_heads, int head_dim, int max_seq_len) {
  return size_t(num_seqs) * num_q_heads * max_partitions(max_seq_len) * (head_dim + 1) * sizeof(float);
}

template <typename Cache>
void launch_decode(const Params<Cache>& p, int head_dim, int max_seq_len, void* workspace, cudaStream_t stream) {
  if (p.num_seqs == 0) return;
  const Partials partials = partials_in(workspace, p.num_seqs, p.num_q_heads, head_dim, max_seq_len);
  switch (head_dim) {
    case 16:
      return launch_for_dim<Cache, 16>(p, partials, stream);
    case 32:
      return launch_for_dim<Cache, 32>(p, partials, stream);
    case 64:
      return launch_for_dim<Cache, 64>(p, partials, stream);
    case 128:
      return launch_for_dim<Cache, 128>(p, partials, stream);
    default:
      throw error("cuda paged_attention: head_dim ", head_dim, " is not supported (16, 32, 64, 128)");
  }
}

template void launch_decode(const Params<bf16>&, int, int, void*, cudaStream_t);
template void launch_decode(const Params<fp8>&, int, int, void*, cudaStream_t);

}  // namespace tern::cuda::attention
