// TMA tensor maps for the copy engines of sm_90 GPUs, made on the host through the driver
// (whose entry point the runtime hands out, so tern links no libcuda).
#pragma once

#include <cuda.h>

#include <cstdint>

namespace tern::cuda {

// The map of a row-major BF16 matrix [rows, cols] (row stride `cols`, 16-byte aligned
// base and rows) read in boxes of box_rows x 64 columns, written to shared memory in the
// 128-byte swizzle that sm90::kmajor_sw128_descriptor describes. Rows past the end read
// as zeros. Throws tern::Error when the driver refuses.
CUtensorMap bf16_rows_sw128_map(const void* base, int64_t rows, int64_t cols, int box_rows);

// The map of a dense 3-D array of 32-bit words, dims innermost first, `strides` the bytes
// between consecutive indices of dims 1 and 2, read in boxes of `box` words with no
// swizzle (the box lands in shared memory in the same order). Indices past a dim read as
// zeros. `what` names the array in errors.
CUtensorMap u32_map_3d(const void* base, const uint64_t (&dims)[3], const uint64_t (&strides)[2],
                       const uint32_t (&box)[3], const char* what);

}  // namespace tern::cuda
