// The operands of the paged-attention kernels as raw device pointers, shared by the
// op method (paged_attention.cu) and the kernels.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace tern::cuda::attention {

using bf16 = __nv_bfloat16;

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kKeysPerTile = 64;  // keys per K/V tile in shared memory

// What both kernels read: the op's operands as raw pointers plus the shape.
struct Params {
  const bf16* q = nullptr;        // [T, Hq * D]
  bf16* out = nullptr;            // [T, Hq * D]
  const bf16* k_cache = nullptr;  // [num_blocks, block_size, Hkv, D]
  const bf16* v_cache = nullptr;
  const int32_t* query_start = nullptr;   // [S + 1]
  const int32_t* seq_lens = nullptr;      // [S]
  const int32_t* block_tables = nullptr;  // [S, max_blocks_per_seq]
  int num_seqs = 0, num_q_heads = 0, num_kv_heads = 0, block_size = 0, max_blocks_per_seq = 0;
  int sliding_window = 0;   // > 0: the query at position p sees keys (p - sliding_window, p]
  float scale_log2 = 0.0f;  // softmax scale times log2(e): the kernels use exp2
};

}  // namespace tern::cuda::attention
