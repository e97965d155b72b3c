#include <algorithm>
#include <limits>

#include "backend/cuda/common.cuh"
#include "backend/cuda/copy_blocks.cuh"
#include "backend/cuda/cuda_backend.h"

namespace tern::cuda {
namespace {

constexpr int kThreads = 256;

// One thread block per (pair, cache): grid.x walks the pairs, grid.y the caches. Word is
// the widest access the block size and the cache pointers allow. __grid_constant__: the
// pointer list is read in place from parameter memory, never copied per thread.
template <typename Word>
__global__ void __launch_bounds__(kThreads)
    copy_blocks_kernel(const __grid_constant__ CacheList caches, int64_t num_blocks, int64_t block_words,
                       const int32_t* __restrict__ block_copies) {
  pdl_start();
  const int32_t src = block_copies[2 * int64_t(blockIdx.x)];
  const int32_t dst = block_copies[2 * int64_t(blockIdx.x) + 1];
  if (src < 0 || src >= num_blocks || dst < 0 || dst >= num_blocks) return;
  Word* base = static_cast<Word*>(caches.base[blockIdx.y]);
  const Word* from = base + int64_t(src) * block_words;
  Word* to = base + int64_t(dst) * block_words;
  for (int64_t w = threadIdx.x; w < block_words; w += kThreads) to[w] = from[w];
}

template <typename Word>
void launch_words(const CacheList& caches, int64_t num_blocks, size_t block_bytes, const int32_t* block_copies,
                  int64_t num_copies, cudaStream_t stream) {
  const dim3 grid(unsigned(num_copies), unsigned(caches.count));
  launch(copy_blocks_kernel<Word>, grid, kThreads, 0, stream, caches, num_blocks, int64_t(block_bytes / sizeof(Word)),
         block_copies);
}

}  // namespace

void launch_copy_blocks(const CacheList& caches, int64_t num_blocks, size_t block_bytes, const int32_t* block_copies,
                        int64_t num_copies, cudaStream_t stream) {
  if (num_copies == 0 || caches.count == 0) return;
  const auto fits = [&](size_t word) {
    if (block_bytes % word != 0) return false;
    return std::all_of(caches.base, caches.base + caches.count,
                       [&](const void* p) { return reinterpret_cast<uintptr_t>(p) % word == 0; });
  };
  if (fits(16)) return launch_words<uint4>(caches, num_blocks, block_bytes, block_copies, num_copies, stream);
  if (fits(4)) return launch_words<uint32_t>(caches, num_blocks, block_bytes, block_copies, num_copies, stream);
  if (fits(2)) return launch_words<uint16_t>(caches, num_blocks, block_bytes, block_copies, num_copies, stream);
  launch_words<uint8_t>(caches, num_blocks, block_bytes, block_copies, num_copies, stream);
}

}  // namespace tern::cuda

namespace tern {

void CudaBackend::copy_blocks(std::span<const KvCacheLayer> layers, const Tensor& block_copies) {
  cuda::expect(block_copies, DType::kI32, "copy_blocks", "block_copies");
  if (block_copies.ndim != 2 || block_copies.cols() != 2)
    throw error("cuda copy_blocks: block_copies must be [N, 2], got ", block_copies.shape_str());
  const int64_t num_copies = block_copies.rows();
  if (num_copies == 0 || layers.empty()) return;
  TERN_CHECK(num_copies <= std::numeric_limits<int32_t>::max(), "copy_blocks: ", num_copies, " copies");
  const Tensor& first = layers[0].k;
  for (const KvCacheLayer& layer : layers) {
    for (const Tensor* cache : {&layer.k, &layer.v}) {
      cuda::expect(*cache, first.dtype, "copy_blocks", "a K or V cache");
      if (cache->ndim != first.ndim || cache->shape != first.shape)
        throw error("cuda copy_blocks: every layer's K and V must match the first K cache ", first.shape_str(),
                    ", got ", cache->shape_str());
    }
  }
  const int64_t num_blocks = first.dim(0);
  const size_t block_bytes = first.nbytes() / size_t(num_blocks);
  use_device();
  cuda::CacheList caches;
  const auto flush = [&] {
    cuda::launch_copy_blocks(caches, num_blocks, block_bytes, block_copies.ptr<const int32_t>(), num_copies, stream_);
    caches.count = 0;
  };
  for (const KvCacheLayer& layer : layers) {
    for (const Tensor* cache : {&layer.k, &layer.v}) {
      caches.base[caches.count++] = cache->data;
      if (caches.count == cuda::CacheList::kCapacity) flush();
    }
  }
  if (caches.count > 0) flush();
}

}  // namespace tern
