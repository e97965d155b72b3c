// The operands of the paged-attention kernels as raw device pointers, shared by the
// op method (paged_attention.cu) and the kernels.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <cstdint>

namespace tern::cuda::attention {

using bf16 = __nv_bfloat16;
// An element of an FP8 KV cache: e4m3 code of value / scale (KvCacheLayer in backend.h).
using fp8 = __nv_fp8_e4m3;

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kKeysPerTile = 64;  // keys per K/V tile in shared memory

// What both kernels read: the op's operands as raw pointers plus the shape. Cache is the
// KV cache's element type, bf16 or fp8; the kernels are instantiated for both.
template <typename Cache>
struct Params {
  const bf16* q = nullptr;         // [T, Hq * D]
  bf16* out = nullptr;             // [T, Hq * D]
  const Cache* k_cache = nullptr;  // [num_blocks, block_size, Hkv, D]
  const Cache* v_cache = nullptr;
  const int32_t* query_start = nullptr;   // [S + 1]
  const int32_t* seq_lens = nullptr;      // [S]
  const int32_t* block_tables = nullptr;  // [S, max_blocks_per_seq]
  int num_seqs = 0, num_q_heads = 0, num_kv_heads = 0, block_size = 0, max_blocks_per_seq = 0;
  int sliding_window = 0;  // > 0: the query at position p sees keys (p - sliding_window, p]
  // Softmax scale times log2(e) (the kernels use exp2); for an FP8 cache also times the K
  // scale, so the scores are taken on the e4m3 values themselves.
  float scale_log2 = 0.0f;
  // Multiplies each output row: the V scale of an FP8 cache (the probabilities weight the
  // e4m3 values), 1 for BF16.
  float out_scale = 1.0f;
};

}  // namespace tern::cuda::attention
