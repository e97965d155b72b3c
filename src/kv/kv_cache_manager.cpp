#include "kv/kv_cache_manager.h"

#include <algorithm>

#include "base/error.h"
#include "kv/block_hash.h"

namespace tern {

KvCacheManager::KvCacheManager(const KvCacheConfig& config)
    : pool_(config.num_blocks, config.block_size), prefix_caching_(config.prefix_caching) {
  tables_.reserve(static_cast<size_t>(config.num_blocks));
}

KvCacheManager::Table& KvCacheManager::table(uint64_t seq_id) {
  const auto it = tables_.find(seq_id);
  TERN_CHECK(it != tables_.end(), "sequence ", seq_id, " has no block table");
  return it->second;
}

void KvCacheManager::extend_block_hashes(std::vector<uint64_t>& block_hashes,
                                         std::span<const int32_t> token_ids) const {
  if (prefix_caching()) tern::extend_block_hashes(block_hashes, token_ids, block_size());
}

PrefixMatch KvCacheManager::match_prefix(std::span<const uint64_t> block_hashes, std::span<const int32_t> token_ids) {
  match_scratch_.clear();
  if (!prefix_caching() || token_ids.empty()) return {};
  const size_t max_blocks = std::min(block_hashes.size(), (token_ids.size() - 1) / block_size());
  BlockRef parent;
  for (size_t i = 0; i < max_blocks; ++i) {
    const auto hit = pool_.find_cached(block_hashes[i], parent, token_ids.subspan(i * block_size(), block_size()));
    if (!hit) break;
    match_scratch_.push_back(*hit);
    parent = *hit;
  }
  return PrefixMatch{.num_queried_tokens = static_cast<int32_t>(token_ids.size()),
                     .num_tokens = static_cast<int32_t>(match_scratch_.size()) * block_size(),
                     .blocks = match_scratch_};
}

bool KvCacheManager::allocate_new(uint64_t seq_id, const PrefixMatch& match, int32_t num_tokens) {
  TERN_CHECK(!tables_.contains(seq_id), "sequence ", seq_id, " already has a block table");
  TERN_CHECK(num_tokens >= match.num_tokens, num_tokens, " tokens < matched ", match.num_tokens);
  const int32_t num_matched = static_cast<int32_t>(match.blocks.size());
  const int32_t num_fresh = num_blocks_for(num_tokens) - num_matched;
  // Matched blocks that sit free in the cache leave the free list when acquired.
  const auto num_revived = std::ranges::count_if(match.blocks, [&](BlockRef b) { return pool_.ref_count(b.id) == 0; });
  if (num_fresh > pool_.num_free_blocks() - num_revived) return false;

  Table& t = tables_[seq_id];
  t.block_ids.reserve(static_cast<size_t>(num_blocks_for(num_tokens)));
  for (const BlockRef& b : match.blocks) {
    pool_.acquire(b.id);
    t.block_ids.push_back(b.id);
  }
  TERN_CHECK(pool_.allocate(num_fresh, t.block_ids), "free-block count changed under allocation");
  t.num_cached_blocks = num_matched;
  if (num_matched > 0) t.last_cached = match.blocks.back();
  queried_tokens_ += match.num_queried_tokens;
  hit_tokens_ += match.num_tokens;
  return true;
}

bool KvCacheManager::needs_copy(int32_t block_id) const {
  if (pool_.is_cached(block_id)) return true;
  const int32_t refs = pool_.ref_count(block_id);
  if (refs == 1) return false;
  const auto num_reads = std::ranges::count(pending_copies_, block_id, &BlockCopy::src);
  return refs - num_reads > 1;
}

void KvCacheManager::copy_on_write(Table& t, size_t index) {
  fresh_scratch_.clear();
  TERN_CHECK(pool_.allocate(1, fresh_scratch_), "no free block for a copy-on-write copy");
  const int32_t src = t.block_ids[index];
  // The table's reference to src moves to the copy, which keeps src until it has run.
  t.block_ids[index] = fresh_scratch_[0];
  pending_copies_.push_back({.src = src, .dst = fresh_scratch_[0]});
}

bool KvCacheManager::allocate_slots(uint64_t seq_id, int32_t num_computed_tokens, int32_t num_tokens) {
  Table& t = table(seq_id);
  const size_t first_written = static_cast<size_t>(num_computed_tokens / block_size());
  int32_t num_copies = 0;
  for (size_t i = first_written; i < t.block_ids.size(); ++i) num_copies += needs_copy(t.block_ids[i]) ? 1 : 0;
  const int32_t num_grown = std::max(0, num_blocks_for(num_tokens) - static_cast<int32_t>(t.block_ids.size()));
  if (num_copies + num_grown > pool_.num_free_blocks()) return false;
  for (size_t i = first_written; i < t.block_ids.size(); ++i) {
    if (needs_copy(t.block_ids[i])) copy_on_write(t, i);
  }
  TERN_CHECK(pool_.allocate(num_grown, t.block_ids), "free-block count changed under allocation");
  return true;
}

void KvCacheManager::fork(uint64_t parent_seq_id, uint64_t child_seq_id, int32_t num_tokens) {
  const Table& parent = table(parent_seq_id);
  const int32_t num_shared = num_blocks_for(num_tokens);
  TERN_CHECK(num_tokens >= 0 && num_shared <= static_cast<int32_t>(parent.block_ids.size()), "fork of ", num_tokens,
             " tokens from a table of ", parent.block_ids.size(), " blocks");
  TERN_CHECK(!tables_.contains(child_seq_id), "sequence ", child_seq_id, " already has a block table");
  std::vector<int32_t> shared(parent.block_ids.begin(), parent.block_ids.begin() + num_shared);
  for (int32_t id : shared) pool_.acquire(id);
  tables_[child_seq_id].block_ids = std::move(shared);
}

void KvCacheManager::take_block_copies(std::vector<BlockCopy>& copies) {
  copies.assign(pending_copies_.begin(), pending_copies_.end());
  pending_copies_.clear();
  for (const BlockCopy& c : copies) pool_.release({&c.src, 1});
}

void KvCacheManager::cache_blocks(uint64_t seq_id, std::span<const uint64_t> block_hashes,
                                  std::span<const int32_t> token_ids, int32_t num_computed_tokens) {
  if (!prefix_caching()) return;
  Table& t = table(seq_id);
  const int32_t num_full = std::min({num_computed_tokens / block_size(), static_cast<int32_t>(block_hashes.size()),
                                     static_cast<int32_t>(t.block_ids.size())});
  for (int32_t i = t.num_cached_blocks; i < num_full; ++i) {
    const auto tokens = token_ids.subspan(static_cast<size_t>(i) * block_size(), block_size());
    // A block whose content is cached already (shared, or an identical twin computed by
    // another sequence) stays out of the cache; the chain continues from the cached one.
    const auto found = pool_.find_cached(block_hashes[i], t.last_cached, tokens);
    t.last_cached = found ? *found : pool_.register_cached(t.block_ids[i], block_hashes[i], t.last_cached, tokens);
  }
  t.num_cached_blocks = std::max(t.num_cached_blocks, num_full);
}

void KvCacheManager::free(uint64_t seq_id) {
  const auto it = tables_.find(seq_id);
  TERN_CHECK(it != tables_.end(), "sequence ", seq_id, " has no block table");
  std::vector<int32_t>& ids = it->second.block_ids;
  std::ranges::reverse(ids);
  pool_.release(ids);
  // A copy into a block released here has nothing left to serve (the block may be reused
  // within the step); its source loses the reference the copy held.
  std::erase_if(pending_copies_, [&](const BlockCopy& c) {
    if (std::ranges::find(ids, c.dst) == ids.end()) return false;
    pool_.release({&c.src, 1});
    return true;
  });
  tables_.erase(it);
}

void KvCacheManager::shrink(uint64_t seq_id, int32_t num_tokens) {
  Table& t = table(seq_id);
  const size_t keep = static_cast<size_t>(num_blocks_for(num_tokens));
  if (keep >= t.block_ids.size()) return;
  TERN_CHECK(static_cast<int32_t>(keep) >= t.num_cached_blocks, "sequence ", seq_id, " shrinks to ", num_tokens,
             " tokens below its ", t.num_cached_blocks, " cached blocks");
  std::vector<int32_t> released(t.block_ids.rbegin(), t.block_ids.rend() - static_cast<ptrdiff_t>(keep));
  t.block_ids.resize(keep);
  pool_.release(released);
}

std::span<const int32_t> KvCacheManager::block_table(uint64_t seq_id) const {
  const auto it = tables_.find(seq_id);
  return it == tables_.end() ? std::span<const int32_t>{} : std::span<const int32_t>{it->second.block_ids};
}

}  // namespace tern
