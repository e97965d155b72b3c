#include "kv/block_pool.h"

#include <algorithm>

#include "base/error.h"

namespace tern {

BlockPool::BlockPool(int32_t num_blocks, int32_t block_size)
    : num_blocks_(num_blocks),
      block_size_(block_size),
      blocks_(static_cast<size_t>(num_blocks) + 1),
      cached_tokens_(static_cast<size_t>(num_blocks) * block_size) {
  TERN_CHECK(num_blocks >= 1 && block_size >= 1, "num_blocks ", num_blocks, ", block_size ", block_size);
  const int32_t sentinel = num_blocks_;
  blocks_[sentinel].prev = blocks_[sentinel].next = sentinel;
  for (int32_t id = 0; id < num_blocks_; ++id) link_after(blocks_[sentinel].prev, id);
  cache_.reserve(static_cast<size_t>(num_blocks));
}

int32_t BlockPool::checked(int32_t block_id) const {
  TERN_CHECK(block_id >= 0 && block_id < num_blocks_, "block id ", block_id, " outside [0, ", num_blocks_, ")");
  return block_id;
}

std::span<const int32_t> BlockPool::tokens_of(int32_t block_id) const {
  return {cached_tokens_.data() + static_cast<size_t>(block_id) * block_size_, static_cast<size_t>(block_size_)};
}

void BlockPool::unlink(int32_t block_id) {
  Block& b = blocks_[block_id];
  blocks_[b.prev].next = b.next;
  blocks_[b.next].prev = b.prev;
  b.prev = b.next = -1;
  --num_free_;
}

void BlockPool::link_after(int32_t where, int32_t block_id) {
  Block& b = blocks_[block_id];
  b.prev = where;
  b.next = blocks_[where].next;
  blocks_[b.next].prev = block_id;
  blocks_[where].next = block_id;
  ++num_free_;
}

std::vector<int32_t> BlockPool::free_block_ids() const {
  std::vector<int32_t> ids;
  ids.reserve(num_free_);
  for (int32_t id = blocks_[num_blocks_].next; id != num_blocks_; id = blocks_[id].next) ids.push_back(id);
  return ids;
}

void BlockPool::uncache(int32_t block_id) {
  Block& b = blocks_[block_id];
  cache_.erase(b.hash);
  b.cached = false;
  ++b.generation;
}

bool BlockPool::allocate(int32_t count, std::vector<int32_t>& out) {
  if (count > num_free_) return false;
  const int32_t sentinel = num_blocks_;
  for (int32_t i = 0; i < count; ++i) {
    const int32_t id = blocks_[sentinel].next;
    unlink(id);
    if (blocks_[id].cached) uncache(id);
    blocks_[id].ref_count = 1;
    out.push_back(id);
  }
  return true;
}

void BlockPool::acquire(int32_t block_id) {
  Block& b = blocks_[checked(block_id)];
  TERN_CHECK(b.ref_count > 0 || b.cached, "block ", block_id, " is free and holds nothing to share");
  if (b.ref_count == 0) unlink(block_id);
  ++b.ref_count;
}

void BlockPool::release(std::span<const int32_t> block_ids) {
  const int32_t sentinel = num_blocks_;
  for (int32_t id : block_ids) {
    Block& b = blocks_[checked(id)];
    TERN_CHECK(b.ref_count > 0, "block ", id, " released with no reference (double free)");
    if (--b.ref_count > 0) continue;
    link_after(b.cached ? blocks_[sentinel].prev : sentinel, id);
  }
}

std::optional<BlockRef> BlockPool::find_cached(uint64_t hash, BlockRef parent,
                                               std::span<const int32_t> token_ids) const {
  const auto it = cache_.find(hash);
  if (it == cache_.end()) return std::nullopt;
  const Block& b = blocks_[it->second];
  if (!(b.parent == parent) || !std::ranges::equal(tokens_of(it->second), token_ids)) return std::nullopt;
  return BlockRef{it->second, b.generation};
}

BlockRef BlockPool::register_cached(int32_t block_id, uint64_t hash, BlockRef parent,
                                    std::span<const int32_t> token_ids) {
  Block& b = blocks_[checked(block_id)];
  TERN_CHECK(b.ref_count > 0, "block ", block_id, " is free: only a block in use can enter the cache");
  TERN_CHECK(static_cast<int32_t>(token_ids.size()) == block_size_, "a cached block must be full");
  if (b.cached) uncache(block_id);
  if (const auto it = cache_.find(hash); it != cache_.end()) {
    const int32_t old = it->second;
    uncache(old);
    // Its content is unreachable now: reuse it before any block that is still cached.
    if (blocks_[old].ref_count == 0) {
      unlink(old);
      link_after(num_blocks_, old);
    }
  }
  b.cached = true;
  b.hash = hash;
  b.parent = parent;
  std::ranges::copy(token_ids, cached_tokens_.begin() + static_cast<ptrdiff_t>(block_id) * block_size_);
  cache_.emplace(hash, block_id);
  return BlockRef{block_id, b.generation};
}

}  // namespace tern
