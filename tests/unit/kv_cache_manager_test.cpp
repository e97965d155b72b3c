// KvCacheManager: per-sequence block tables, allocation, forks and release order.
#include "kv/kv_cache_manager.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "base/error.h"

namespace tern {
namespace {

std::vector<int32_t> iota_tokens(int32_t n, int32_t first = 0) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

std::vector<int32_t> table_of(const KvCacheManager& kv, uint64_t seq_id) {
  const auto t = kv.block_table(seq_id);
  return {t.begin(), t.end()};
}

TEST(KvCacheManager, TablesGrowByWholeBlocks) {
  KvCacheManager kv({.block_size = 4, .num_blocks = 10});
  ASSERT_TRUE(kv.allocate_new(1, PrefixMatch{}, 6));
  EXPECT_EQ(kv.block_table(1).size(), 2u);
  ASSERT_TRUE(kv.allocate_slots(1, 8));
  EXPECT_EQ(kv.block_table(1).size(), 2u);
  ASSERT_TRUE(kv.allocate_slots(1, 9));
  EXPECT_EQ(kv.block_table(1).size(), 3u);
  EXPECT_EQ(kv.pool().num_used_blocks(), 3);
  EXPECT_EQ(kv.num_tables(), 1u);
}

TEST(KvCacheManager, AFailedAllocationChangesNothing) {
  KvCacheManager kv({.block_size = 4, .num_blocks = 3});
  ASSERT_TRUE(kv.allocate_new(1, PrefixMatch{}, 8));
  EXPECT_FALSE(kv.allocate_new(2, PrefixMatch{}, 8));
  EXPECT_TRUE(kv.block_table(2).empty());
  EXPECT_FALSE(kv.allocate_slots(1, 13));
  EXPECT_EQ(kv.block_table(1).size(), 2u);
  EXPECT_EQ(kv.pool().num_free_blocks(), 1);
}

TEST(KvCacheManager, ForkSharesTheParentsFullBlocks) {
  KvCacheManager kv({.block_size = 4, .num_blocks = 10});
  ASSERT_TRUE(kv.allocate_new(1, PrefixMatch{}, 10));
  const std::vector<int32_t> parent = table_of(kv, 1);
  kv.fork(1, 2, 8);
  EXPECT_EQ(table_of(kv, 2), (std::vector<int32_t>{parent[0], parent[1]}));
  EXPECT_EQ(kv.pool().ref_count(parent[0]), 2);
  EXPECT_EQ(kv.pool().ref_count(parent[1]), 2);
  EXPECT_EQ(kv.pool().ref_count(parent[2]), 1) << "the partial block is never shared";

  ASSERT_TRUE(kv.allocate_slots(2, 10));
  EXPECT_NE(table_of(kv, 2)[2], parent[2]) << "the child writes its tail into its own block";
  kv.free(1);
  EXPECT_EQ(kv.pool().ref_count(parent[0]), 1);
  kv.free(2);
  EXPECT_EQ(kv.pool().num_used_blocks(), 0);
}

TEST(KvCacheManager, ForkOfZeroTokensGivesAnEmptyTable) {
  KvCacheManager kv({.block_size = 4, .num_blocks = 4});
  ASSERT_TRUE(kv.allocate_new(1, PrefixMatch{}, 3));
  kv.fork(1, 2, 0);
  EXPECT_TRUE(kv.block_table(2).empty());
  EXPECT_EQ(kv.num_tables(), 2u);
  EXPECT_THROW(kv.fork(1, 3, 2), Error) << "forks share whole blocks only";
}

TEST(KvCacheManager, FreeReleasesTheTailFirst) {
  KvCacheManager kv({.block_size = 2, .num_blocks = 4});
  const std::vector<int32_t> ids = iota_tokens(6);
  std::vector<uint64_t> hashes;
  kv.extend_block_hashes(hashes, ids);
  ASSERT_TRUE(kv.allocate_new(1, PrefixMatch{}, 6));
  kv.cache_blocks(1, hashes, ids, 6);
  const std::vector<int32_t> table = table_of(kv, 1);
  kv.free(1);
  // The unused block 3 first, then the sequence's blocks from its last to its first.
  EXPECT_EQ(kv.pool().free_block_ids(), (std::vector<int32_t>{3, table[2], table[1], table[0]}));
}

TEST(KvCacheManager, UnknownSequencesThrow) {
  KvCacheManager kv({.block_size = 4, .num_blocks = 4});
  EXPECT_THROW(kv.allocate_slots(9, 4), Error);
  EXPECT_THROW(kv.free(9), Error);
  ASSERT_TRUE(kv.allocate_new(1, PrefixMatch{}, 4));
  EXPECT_THROW(kv.allocate_new(1, PrefixMatch{}, 4), Error);
}

TEST(KvCacheManager, WithPrefixCachingOffNothingIsHashedOrMatched) {
  KvCacheManager kv({.block_size = 2, .num_blocks = 4, .prefix_caching = PrefixCaching::kDisabled});
  const std::vector<int32_t> ids = iota_tokens(5);
  std::vector<uint64_t> hashes;
  kv.extend_block_hashes(hashes, ids);
  EXPECT_TRUE(hashes.empty());
  ASSERT_TRUE(kv.allocate_new(1, PrefixMatch{}, 5));
  kv.cache_blocks(1, hashes, ids, 5);
  EXPECT_FALSE(kv.pool().is_cached(kv.block_table(1)[0]));
  EXPECT_EQ(kv.match_prefix(hashes, ids).num_tokens, 0);
  EXPECT_EQ(kv.prefix_cache_queried_tokens(), 0);
}

}  // namespace
}  // namespace tern
