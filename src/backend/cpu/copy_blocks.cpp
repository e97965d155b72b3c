#include <cstring>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/op_support.h"

namespace tern {
namespace {

// Checks what the op's contract promises the CUDA kernel (which cannot check device data):
// ids inside the cache, distinct destinations, no destination also a source. A violation
// is a KV manager bug, caught here by every CPU run.
void check_copies(const int32_t* pairs, int64_t num_copies, int64_t num_blocks) {
  enum Role : uint8_t { kNone, kSource, kDestination };
  std::vector<uint8_t> role(size_t(num_blocks), kNone);
  for (int64_t i = 0; i < num_copies; ++i) {
    const int32_t src = pairs[2 * i], dst = pairs[2 * i + 1];
    TERN_CHECK(src >= 0 && src < num_blocks && dst >= 0 && dst < num_blocks, "copy_blocks: copy ", i, " (", src, " -> ",
               dst, ") names a block outside [0, ", num_blocks, ")");
    role[size_t(src)] = kSource;
  }
  for (int64_t i = 0; i < num_copies; ++i) {
    const int32_t dst = pairs[2 * i + 1];
    TERN_CHECK(role[size_t(dst)] == kNone, "copy_blocks: copy ", i, " writes block ", dst, ", which is ",
               role[size_t(dst)] == kSource ? "also a source" : "already another copy's destination");
    role[size_t(dst)] = kDestination;
  }
}

}  // namespace

void CpuBackend::copy_blocks(std::span<const KvCacheLayer> layers, const Tensor& block_copies) {
  cpu::expect(block_copies, DType::kI32, "copy_blocks", "block_copies");
  TERN_CHECK(block_copies.ndim == 2 && block_copies.cols() == 2, "copy_blocks: block_copies must be [N, 2], got ",
             block_copies.shape_str());
  const int64_t num_copies = block_copies.rows();
  if (num_copies == 0 || layers.empty()) return;
  const Tensor& first = layers[0].k;
  for (const KvCacheLayer& layer : layers) {
    for (const Tensor* cache : {&layer.k, &layer.v}) {
      TERN_CHECK(cache->device == Device::kCpu && cache->dtype == first.dtype && cache->shape == first.shape &&
                     cache->ndim == first.ndim,
                 "copy_blocks: every layer's K and V must match the first K cache ", first.shape_str(), ", got ",
                 cache->shape_str());
    }
  }
  const int64_t num_blocks = first.dim(0);
  const size_t block_bytes = first.nbytes() / size_t(num_blocks);
  const int32_t* pairs = block_copies.ptr<const int32_t>();
  check_copies(pairs, num_copies, num_blocks);
  for (const KvCacheLayer& layer : layers) {
    for (const Tensor* cache : {&layer.k, &layer.v}) {
      char* base = static_cast<char*>(cache->data);
      for (int64_t i = 0; i < num_copies; ++i)
        std::memcpy(base + size_t(pairs[2 * i + 1]) * block_bytes, base + size_t(pairs[2 * i]) * block_bytes,
                    block_bytes);
    }
  }
}

}  // namespace tern
