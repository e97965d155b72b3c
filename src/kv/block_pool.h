// The KV block pool: block ids, reference counts, the free list in eviction order, and the
// prefix cache (which full blocks hold which tokens). Integers only; the model side owns
// the memory the ids index. Not thread-safe: only the engine thread uses it.
//
// Invariants (checked by tests/unit/block_pool_test.cpp and the scheduler stress test):
// - every block is either referenced (ref_count > 0) or on the free list, never both;
//   num_free_blocks() + num_used_blocks() == num_blocks();
// - the free list is in eviction order: allocate() takes from the head; a released block
//   that is cached goes to the tail (least recently used is evicted first), an uncached one
//   to the head (it holds nothing worth keeping);
// - a cached block keeps its cache entry while it is free, until allocate() reuses it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace tern {

// The identity of a cached block: its id and the generation of its cache entry, which
// changes whenever the entry is dropped, so a stale reference never matches a reused id.
// BlockRef{} (id -1) is the parent of a sequence's first block.
struct BlockRef {
  int32_t id = -1;
  uint32_t generation = 0;
  bool operator==(const BlockRef&) const = default;
};

class BlockPool {
 public:
  // num_blocks >= 1, block_size >= 1; all blocks start free and uncached.
  BlockPool(int32_t num_blocks, int32_t block_size);

  int32_t num_blocks() const { return num_blocks_; }
  int32_t block_size() const { return block_size_; }
  // Blocks with no reference (cached or not): what allocate() can hand out.
  int32_t num_free_blocks() const { return num_free_; }
  int32_t num_used_blocks() const { return num_blocks_ - num_free_; }
  int32_t ref_count(int32_t block_id) const { return blocks_[checked(block_id)].ref_count; }
  bool is_cached(int32_t block_id) const { return blocks_[checked(block_id)].cached; }
  // Free blocks from the head (evicted first) to the tail; for tests and invariant checks.
  std::vector<int32_t> free_block_ids() const;

  // Appends `count` blocks from the head of the free list to `out`, each with ref count 1,
  // dropping their cache entries. Returns false and changes nothing when fewer are free.
  bool allocate(int32_t count, std::vector<int32_t>& out);
  // One more reference to a block that is referenced or cached; a free cached block
  // leaves the free list (a prefix-cache hit revives it).
  void acquire(int32_t block_id);
  // One reference less for each block, in order; a block reaching zero joins the free list
  // (see the class comment), so the blocks released first are evicted first. Throws
  // tern::Error when a block has no reference (a double free).
  void release(std::span<const int32_t> block_ids);

  // The cached block that follows `parent` and holds exactly `token_ids` (block_size of
  // them), looked up by `hash`; nullopt on a miss. Comparing tokens and parent makes a hit
  // exact whatever the hash does.
  std::optional<BlockRef> find_cached(uint64_t hash, BlockRef parent, std::span<const int32_t> token_ids) const;
  // Makes a referenced, full block findable under `hash`. The block's previous entry, and
  // an entry already under `hash` (a stale chain or a collision), are dropped first.
  // Returns the new entry.
  BlockRef register_cached(int32_t block_id, uint64_t hash, BlockRef parent, std::span<const int32_t> token_ids);

 private:
  struct Block {
    int32_t ref_count = 0;
    bool cached = false;
    uint32_t generation = 0;
    uint64_t hash = 0;
    BlockRef parent;
    // Free-list links (indices; num_blocks_ is the sentinel).
    int32_t prev = -1;
    int32_t next = -1;
  };

  int32_t checked(int32_t block_id) const;
  void uncache(int32_t block_id);
  void unlink(int32_t block_id);
  void link_after(int32_t where, int32_t block_id);
  std::span<const int32_t> tokens_of(int32_t block_id) const;

  int32_t num_blocks_;
  int32_t block_size_;
  int32_t num_free_ = 0;
  std::vector<Block> blocks_;                    // num_blocks_ + 1: the last is the free-list sentinel
  std::vector<int32_t> cached_tokens_;           // [num_blocks, block_size]
  std::unordered_map<uint64_t, int32_t> cache_;  // hash -> block id
};

}  // namespace tern
