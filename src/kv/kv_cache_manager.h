// Per-sequence block tables on top of BlockPool: which blocks hold a sequence's KV, what a
// new sequence reuses from the prefix cache, forks for n > 1, copy-on-write, and when blocks
// enter the cache. Sequences are named by the engine's 64-bit sequence ids. Not thread-safe:
// only the engine thread uses it.
//
// Blocks are shared (ref count > 1) by prefix-cache hits (full blocks) and forks (which may
// share a partially filled last block). A shared or cached block is never written in place:
// before a sequence writes into a block another table also holds (or one in the prefix
// cache), allocate_slots() swaps a fresh block into its table and records a copy
// (copy-on-write). The step's copies are handed to the model side, which runs them before
// the forward. Until then each recorded copy holds one reference to its source, so the
// source cannot be reused within the step: a block's ref count is the number of tables
// holding it plus the pending copies reading it (just the tables between steps).
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "kv/block_copy.h"
#include "kv/block_pool.h"

namespace tern {

enum class PrefixCaching { kEnabled, kDisabled };

struct KvCacheConfig {
  int32_t block_size = 16;
  int32_t num_blocks = 0;
  PrefixCaching prefix_caching = PrefixCaching::kEnabled;
};

// What a sequence about to be admitted can reuse. `blocks` points into the manager and is
// valid until its next call.
struct PrefixMatch {
  int32_t num_queried_tokens = 0;
  int32_t num_tokens = 0;  // blocks.size() * block_size
  std::span<const BlockRef> blocks;
};

class KvCacheManager {
 public:
  explicit KvCacheManager(const KvCacheConfig& config);

  int32_t block_size() const { return pool_.block_size(); }
  bool prefix_caching() const { return prefix_caching_ == PrefixCaching::kEnabled; }
  const BlockPool& pool() const { return pool_; }
  int32_t num_blocks_for(int32_t num_tokens) const { return (num_tokens + block_size() - 1) / block_size(); }

  // Hashes of the newly full blocks of `token_ids` (see extend_block_hashes); nothing when
  // prefix caching is off.
  void extend_block_hashes(std::vector<uint64_t>& block_hashes, std::span<const int32_t> token_ids) const;

  // The longest cached prefix of a sequence's tokens, in whole blocks and capped at
  // (size - 1) / block_size blocks so the last token is always computed (its logits are
  // needed). Empty when caching is off. Takes no reference: allocate_new() does.
  PrefixMatch match_prefix(std::span<const uint64_t> block_hashes, std::span<const int32_t> token_ids);
  // Creates the table of a sequence that has none: the matched blocks, then fresh blocks
  // until it covers `num_tokens` tokens (>= match.num_tokens). Returns false and changes
  // nothing when too few blocks are free. Adds the match to the prefix-cache counters.
  bool allocate_new(uint64_t seq_id, const PrefixMatch& match, int32_t num_tokens);
  // Prepares an existing table for a step that writes the KV of tokens from
  // `num_computed_tokens` on: grows it to cover `num_tokens` tokens and gives the sequence
  // its own copy of every block it will write (from the one holding token
  // num_computed_tokens to the end of the table) that another table also holds or that is
  // in the prefix cache. Returns false and changes nothing when too few blocks are free
  // for both.
  bool allocate_slots(uint64_t seq_id, int32_t num_computed_tokens, int32_t num_tokens);
  // Gives `child` (no table yet) the blocks of `parent` that hold its first `num_tokens`
  // tokens, shared; the last of them may be partially filled (the first write into it
  // copies it). num_tokens lies within the parent's table.
  void fork(uint64_t parent_seq_id, uint64_t child_seq_id, int32_t num_tokens);
  // Moves the copies recorded since the last call into `copies` (replacing its contents),
  // in the order recorded, and releases the references they held on their sources. Call
  // once per step after its last allocation; the model side must run the copies before
  // the step writes any KV. Destinations are distinct and none is also a source.
  void take_block_copies(std::vector<BlockCopy>& copies);
  // Puts the sequence's full blocks among its first `num_computed_tokens` tokens into the
  // prefix cache (no-op when caching is off). Call it only once those tokens' KV is known
  // good: the engine calls it after a sample came back without a numerical error.
  void cache_blocks(uint64_t seq_id, std::span<const uint64_t> block_hashes, std::span<const int32_t> token_ids,
                    int32_t num_computed_tokens);
  // Releases the blocks of the sequence's table past the first `num_tokens` tokens, last
  // first: speculative drafts that were rejected leave blocks nothing will read. They are
  // never cached (they hold no computed token).
  void shrink(uint64_t seq_id, int32_t num_tokens);
  // Releases the sequence's blocks, last block first (a sequence's tail is evicted before
  // its head) and drops its table. Blocks not cached before stay uncached. Pending copies
  // into its blocks are dropped with it.
  void free(uint64_t seq_id);

  // The sequence's blocks in order; empty when it has no table. Valid until the table changes.
  std::span<const int32_t> block_table(uint64_t seq_id) const;
  size_t num_tables() const { return tables_.size(); }

  int64_t prefix_cache_queried_tokens() const { return queried_tokens_; }
  int64_t prefix_cache_hit_tokens() const { return hit_tokens_; }

 private:
  struct Table {
    std::vector<int32_t> block_ids;
    int32_t num_cached_blocks = 0;  // leading blocks whose content is in the cache
    BlockRef last_cached;           // the cache entry of block num_cached_blocks - 1
  };

  Table& table(uint64_t seq_id);
  // Whether a sequence about to write into one of its blocks must copy it first: another
  // table holds it too (pending copies reading it do not count: they run before anything
  // writes it), or it is in the prefix cache, whose content must stay what it promises.
  bool needs_copy(int32_t block_id) const;
  // Swaps a fresh block (one must be free) for t.block_ids[index] and records the copy.
  void copy_on_write(Table& t, size_t index);

  BlockPool pool_;
  PrefixCaching prefix_caching_;
  std::unordered_map<uint64_t, Table> tables_;
  std::vector<BlockRef> match_scratch_;
  std::vector<BlockCopy> pending_copies_;  // this step's, in order; each holds its source
  std::vector<int32_t> fresh_scratch_;
  int64_t queried_tokens_ = 0;
  int64_t hit_tokens_ = 0;
};

}  // namespace tern
