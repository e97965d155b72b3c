// RoPE (neox layout) fused with the split of the QKV projection and the paged KV-cache
// write: one pass over qkv, no intermediate tensors.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace tern::cuda {

// Cache is the KV cache's element type: __nv_bfloat16, or __nv_fp8_e4m3 for an FP8 cache,
// which stores e4m3(x / scale) rounded to nearest even and saturated to +-448.
template <typename Cache>
struct RopeKvWriteArgs {
  const __nv_bfloat16* qkv = nullptr;     // [tokens, (num_q_heads + 2 num_kv_heads) * head_dim]
  const int32_t* positions = nullptr;     // [tokens]
  const int32_t* slot_mapping = nullptr;  // [tokens]; a slot < 0 or >= num_slots is not written
  const float* inv_freq = nullptr;        // [head_dim / 2]
  float attention_scaling = 1.0f;
  Cache* k_cache = nullptr;  // [num_slots, num_kv_heads, head_dim]
  Cache* v_cache = nullptr;
  float k_scale = 1.0f, v_scale = 1.0f;  // FP8 only
  __nv_bfloat16* q_out = nullptr;        // [tokens, num_q_heads * head_dim]
  int64_t tokens = 0, num_slots = 0;
  int num_q_heads = 0, num_kv_heads = 0, head_dim = 0;  // head_dim even, at most 1024
};

// Defined for Cache = __nv_bfloat16 and __nv_fp8_e4m3.
template <typename Cache>
void launch_rope_kv_write(const RopeKvWriteArgs<Cache>& args, cudaStream_t stream);

}  // namespace tern::cuda
