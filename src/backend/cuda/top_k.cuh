// The k largest logits of each row (ties: lower id first) and the row's log-sum-exp, in
// two stages: each block takes one chunk of a row, then one block per row merges the
// chunks' candidates.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace tern::cuda {

inline constexpr int kTopKMax = 128;  // the largest k

// Device scratch launch_top_k needs for `rows` rows and k candidates.
size_t top_k_workspace_bytes(int64_t rows, int k);

// logits [rows, vocab] F32 -> ids [rows, k] I32 and values [rows, k] F32, highest first,
// and log_sum_exp [rows] F32 (NaN for a row with NaN). 1 <= k <= kTopKMax, k <= vocab;
// `workspace` holds top_k_workspace_bytes(rows, k). Throws tern::Error when a chunk of
// the vocabulary does not fit in shared memory.
void launch_top_k(const float* logits, int64_t rows, int64_t vocab, int k, void* workspace, int32_t* ids, float* values,
                  float* log_sum_exp, cudaStream_t stream);

}  // namespace tern::cuda
