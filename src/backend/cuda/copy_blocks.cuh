// Whole-block copies inside KV caches (copy-on-write of shared blocks), for every layer's K
// and V in one launch.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace tern::cuda {

// The caches one launch copies in. Passed by value as a kernel parameter, so a launch
// allocates and uploads nothing; 256 caches (K and V of 128 layers) keep it under the
// classic 4 KB parameter limit.
struct CacheList {
  static constexpr int kCapacity = 256;
  void* base[kCapacity];
  int count = 0;
};

// For each pair c in [0, num_copies) and each cache i of `caches`: bytes
// [dst * block_bytes, (dst + 1) * block_bytes) of cache i become a copy of the same range at
// src, where (src, dst) = block_copies[c] (device [num_copies, 2] I32). Every cache has
// num_blocks blocks. A pair naming a block outside [0, num_blocks) is skipped. Destinations
// must be distinct and none also a source: the copies run in parallel.
void launch_copy_blocks(const CacheList& caches, int64_t num_blocks, size_t block_bytes, const int32_t* block_copies,
                        int64_t num_copies, cudaStream_t stream);

}  // namespace tern::cuda
