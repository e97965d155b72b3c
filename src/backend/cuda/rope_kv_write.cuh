// RoPE (neox layout) fused with the split of the QKV projection and the paged KV-cache
// write: one pass over qkv, no intermediate tensors.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace tern::cuda {

struct RopeKvWriteArgs {
  const __nv_bfloat16* qkv = nullptr;     // [tokens, (num_q_heads + 2 num_kv_heads) * head_dim]
  const int32_t* positions = nullptr;     // [tokens]
  const int32_t* slot_mapping = nullptr;  // [tokens]; a slot < 0 or >= num_slots is not written
  const float* inv_freq = nullptr;        // [head_dim / 2]
  float attention_scaling = 1.0f;
  __nv_bfloat16* k_cache = nullptr;  // [num_slots, num_kv_heads, head_dim]
  __nv_bfloat16* v_cache = nullptr;
  __nv_bfloat16* q_out = nullptr;  // [tokens, num_q_heads * head_dim]
  int64_t tokens = 0, num_slots = 0;
  int num_q_heads = 0, num_kv_heads = 0, head_dim = 0;  // head_dim even, at most 1024
};

void launch_rope_kv_write(const RopeKvWriteArgs& args, cudaStream_t stream);

}  // namespace tern::cuda
