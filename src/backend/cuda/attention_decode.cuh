// Paged attention for single-token sequences (decode): split-KV "flash decoding". A
// block takes one (sequence, KV head, key partition) and all the query heads that share
// that KV head, so each K/V row is read once per KV head; the query heads are the 16 rows
// of the tensor-core tile. Long contexts are cut into partitions computed in parallel
// and merged by a second kernel in a fixed order.
//
// With a sliding window only the window's keys are read and partitioned. The
// partitioning of a sequence depends only on its own length (and the window), never on
// the batch, so a sequence decodes to the same bits alone or in any batch.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "backend/cuda/attention_params.h"

namespace tern::cuda::attention {

// Most partitions one sequence is cut into, and the fewest keys worth a partition.
constexpr int kMaxPartitions = 32;
constexpr int kMinPartitionKeys = 256;

// Partitions for a context of at most max_seq_len tokens: the row stride of the
// workspace and the grid's width.
int max_partitions(int max_seq_len);

// Bytes of FP32 workspace for num_seqs sequences of at most max_seq_len tokens.
size_t decode_workspace_bytes(int num_seqs, int num_q_heads, int head_dim, int max_seq_len);

// Computes every sequence with exactly one query token; others are left alone.
// workspace: decode_workspace_bytes(...) bytes; head_dim is 16, 32, 64 or 128. Defined for
// Cache = bf16 and fp8.
template <typename Cache>
void launch_decode(const Params<Cache>& p, int head_dim, int max_seq_len, void* workspace, cudaStream_t stream);

}  // namespace tern::cuda::attention
