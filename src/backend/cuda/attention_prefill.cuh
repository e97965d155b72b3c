// Paged attention for sequences with two or more query tokens (prefill and chunked
// prefill): FlashAttention-2 style, tensor cores, FP32 online softmax, causal (with an
// optional sliding window: a query tile reads only the keys its rows' windows cover), GQA. The
// cached prefix and the new tokens are both read through the block table (rope_kv_write
// has already put the new keys there).
#pragma once

#include <cuda_runtime.h>

#include "backend/cuda/attention_params.h"

namespace tern::cuda::attention {

// Computes every sequence with query_start[s+1] - query_start[s] >= 2; single-token
// sequences are left to the decode kernel. head_dim is 16, 32, 64 or 128;
// max_query_len bounds every sequence's query length. Defined for Cache = bf16 and fp8.
template <typename Cache>
void launch_prefill(const Params<Cache>& p, int head_dim, int max_query_len, cudaStream_t stream);

}  // namespace tern::cuda::attention
