// The W4A16 GEMM of sm_90 GPUs: out[m, n] = x[m, k] W^T (+ bias) with W in 4-bit codes
// (the kW4Tiles layout of int4_tiles.h) and x in BF16, for every m. Weights never exist
// as BF16 in memory: they are turned into tensor-core operands in registers.
//
// Per block: one producer warp streams the weight tiles and their scale words (bulk
// copies) and the activation tiles (TMA, 128-byte swizzle) into a ring of shared-memory
// stages; two consumer warpgroups turn each lane's 16 weight bytes into the A operand of
// wgmma.m64nNk16 ((code - zero) * scale, in bf16) and multiply with the activations in
// shared memory as B. Blocks are persistent and walk the units of w4a16_schedule.h; a
// split K is summed in slice order by the block that finishes a unit's last slice, so the
// result does not depend on timing. Launched with programmatic dependent launch: the
// weights start arriving before the kernel before it has finished.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/w4a16_schedule.h"
#include "tensor/dtype.h"

namespace tern::cuda {

struct W4A16Problem {
  int64_t m = 0, n = 0, k = 0;
  const void* x = nullptr;         // [m, k] BF16, 16-byte aligned (act-order: already gathered)
  const void* tiles = nullptr;     // [n / 16][k / 64][512 B], the kW4Tiles layout
  const int32_t* words = nullptr;  // [n / 16][groups][16] scale and zero words (int4_tiles.h)
  int64_t group_size = 0;
  int64_t num_groups = 0;
  const void* bias = nullptr;  // [n] of out_dtype, or null
  void* out = nullptr;         // [m, n] of out_dtype
  DType out_dtype = DType::kBF16;
  // Workspaces of w4a16_partials_bytes(n, k) and w4a16_counters_bytes(n) bytes; the
  // counters start at zero and are left at zero.
  float* partials = nullptr;
  int* counters = nullptr;
};

// Whether this device runs the kernel (sm_90 and a binary built for sm_90a).
bool w4a16_supported(int device);
// What the schedule needs to know of the current device.
W4Device w4a16_device();
void launch_w4a16_gemm(const W4A16Problem& p, const W4Schedule& schedule, cudaStream_t stream);

}  // namespace tern::cuda
