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

}  // namespace tern::cuda
