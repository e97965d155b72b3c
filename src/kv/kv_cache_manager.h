// Per-sequence block tables on top of BlockPool: which blocks hold a sequence's KV, what a
// new sequence reuses from the prefix cache, forks for n > 1, and when blocks enter the
// cache. Sequences are named by the engine's 64-bit sequence ids. Not thread-safe: only
// the engine thread uses it.
//
// Blocks are shared (ref count > 1) only when full: prefix-cache hits and forks hand out
// whole blocks, and a sequence writes only at positions >= its computed tokens, which lie
// past every block it shares. So a shared block is never written and needs no copy.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

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
  // Grows an existing table to cover `num_tokens` tokens; false and no change when too
  // few blocks are free.
  bool allocate_slots(uint64_t seq_id, int32_t num_tokens);
  // Gives `child` (no table yet) the first num_tokens / block_size blocks of `parent`,
  // shared. num_tokens is a multiple of block_size within the parent's table.
  void fork(uint64_t parent_seq_id, uint64_t child_seq_id, int32_t num_tokens);
  // Puts the sequence's full blocks among its first `num_computed_tokens` tokens into the
  // prefix cache (no-op when caching is off). Call it only once those tokens' KV is known
  // good: the engine calls it after a sample came back without a numerical error.
  void cache_blocks(uint64_t seq_id, std::span<const uint64_t> block_hashes, std::span<const int32_t> token_ids,
                    int32_t num_computed_tokens);
  // Releases the sequence's blocks, last block first (a sequence's tail is evicted before
  // its head) and drops its table. Blocks not cached before stay uncached.
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

  BlockPool pool_;
  PrefixCaching prefix_caching_;
  std::unordered_map<uint64_t, Table> tables_;
  std::vector<BlockRef> match_scratch_;
  int64_t queried_tokens_ = 0;
  int64_t hit_tokens_ = 0;
};

}  // namespace tern
