// Row gather, the kernel behind both embedding and gather_rows.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace tern::cuda {

// out[i, :] = x[indices[i], :] for i in [0, count), rows of row_bytes bytes; x has
// num_rows rows. An index outside [0, num_rows) gives a row of 0xFF bytes (NaN for
// float types) instead of an out-of-bounds read.
void launch_gather_rows(const void* x, int64_t num_rows, size_t row_bytes, const int32_t* indices, int64_t count,
                        void* out, cudaStream_t stream);

}  // namespace tern::cuda
