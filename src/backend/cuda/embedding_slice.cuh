// The vocabulary-parallel embedding's kernel (tensor parallelism): rows of this rank's
// slice of the table, zeros for ids that another rank holds.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace tern::cuda {

// out[t, :] = table[ids[t] - first_id, :] when that row is in [0, num_rows), else zeros,
// for t in [0, count); rows of row_bytes bytes.
void launch_embedding_slice(const void* table, int64_t num_rows, size_t row_bytes, const int32_t* ids, int64_t count,
                            int64_t first_id, void* out, cudaStream_t stream);

}  // namespace tern::cuda
