// KvCacheManager: per-sequence block tables, allocation, forks, copy-on-write and release order.
#include "kv/kv_cache_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
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
  ASSERT_TRUE(kv.allocate_slots(1, 6, 8));
  EXPECT_EQ(kv.block_table(1).size(), 2u);
  ASSERT_TRUE(kv.allocate_slots(1, 8, 9));
  EXPECT_EQ(kv.block_table(1).size(), 3u);
  EXPECT_EQ(kv.pool().num_used_blocks(), 3);
  EXPECT_EQ(kv.num_tables(), 1u);
}

TEST(KvCacheManager, AFailedAllocationChangesNothing) {
  KvCacheManager kv({.block_size = 4, .num_blocks = 3});
  ASSERT_TRUE(kv.allocate_new(1, PrefixMatch{}, 8));
  EXPECT_FALSE(kv.allocate_new(2, PrefixMatch{}, 8));
  EXPECT_TRUE(kv.block_table(2).empty());
  EXPECT_FALSE(kv.allocate_slots(1, 8, 13));
  EXPECT_EQ(kv.block_table(1).size(), 2u);
  EXPECT_EQ(kv.pool().num_free_blocks(), 1);
}

TEST(KvCacheManager, AForkSharesEveryBlockHoldingItsTokensThePartialLastOneToo) {
  KvCacheManager kv({.block_size = 4, .num_blocks = 10});
  ASSERT_TRUE(kv.allocate_new(1, PrefixMatch{}, 11));
  const std::vector<int32_t> parent = table_of(kv, 1);
  kv.fork(1, 2, 10);
  EXPECT_EQ(table_of(kv, 2), parent) << "tokens 8 and 9 live in the third, partial block";
  for (int32_t id : parent) EXPECT_EQ(kv.pool().ref_count(id), 2);
  kv.fork(1, 3, 8);
  EXPECT_EQ(table_of(kv, 3), (std::vector<int32_t>{parent[0], parent[1]}));
  kv.fork(1, 4, 0);
  EXPECT_TRUE(kv.block_table(4).empty());
  EXPECT_THROW(kv.fork(1, 5, 13), Error) << "beyond the parent's table";
  EXPECT_THROW(kv.fork(1, 2, 4), Error) << "the child has a table already";
  for (uint64_t id : {1, 2, 3, 4}) kv.free(id);
  EXPECT_EQ(kv.pool().num_used_blocks(), 0);
}

// Copy-on-write: parent and child share a partial block; each write into it goes to a
// private copy until only one holder is left, who writes in place.
class CopyOnWrite : public ::testing::Test {
 protected:
  CopyOnWrite() {
    EXPECT_TRUE(kv.allocate_new(1, PrefixMatch{}, 10));  // blocks 0 1 2, the last holds tokens 8 and 9
    shared = table_of(kv, 1);
    kv.fork(1, 2, 10);
    kv.fork(1, 3, 10);
  }
  std::vector<BlockCopy> take() {
    std::vector<BlockCopy> copies;
    kv.take_block_copies(copies);
    return copies;
  }

  KvCacheManager kv{{.block_size = 4, .num_blocks = 6}};
  std::vector<int32_t> shared;
};

TEST_F(CopyOnWrite, AWriteIntoASharedBlockCopiesItAndSwapsTheCopyIn) {
  ASSERT_TRUE(kv.allocate_slots(1, 10, 11));
  const std::vector<int32_t> table = table_of(kv, 1);
  EXPECT_EQ(table[0], shared[0]);
  EXPECT_EQ(table[1], shared[1]);
  EXPECT_NE(table[2], shared[2]);
  EXPECT_EQ(kv.pool().ref_count(table[2]), 1);
  EXPECT_EQ(kv.pool().ref_count(shared[2]), 3) << "the pending copy still holds its source";
  EXPECT_EQ(take(), (std::vector<BlockCopy>{{.src = shared[2], .dst = table[2]}}));
  EXPECT_EQ(kv.pool().ref_count(shared[2]), 2) << "released once the copy is handed out";
  EXPECT_EQ(kv.pool().ref_count(shared[0]), 3) << "blocks before the written one stay shared";
  EXPECT_TRUE(take().empty()) << "copies are handed out once";
}

TEST_F(CopyOnWrite, TheLastHolderWritesInPlaceSoNHoldersMakeNMinusOneCopies) {
  ASSERT_TRUE(kv.allocate_slots(1, 10, 11));
  ASSERT_TRUE(kv.allocate_slots(2, 9, 10));
  ASSERT_TRUE(kv.allocate_slots(3, 9, 10));
  const std::vector<BlockCopy> copies = take();
  ASSERT_EQ(copies.size(), 2u);
  EXPECT_EQ(copies[0].src, shared[2]);
  EXPECT_EQ(copies[1].src, shared[2]);
  EXPECT_EQ(table_of(kv, 1)[2], copies[0].dst);
  EXPECT_EQ(table_of(kv, 2)[2], copies[1].dst);
  EXPECT_EQ(table_of(kv, 3)[2], shared[2]) << "nobody else holds it any more";
  for (uint64_t id : {1, 2, 3}) EXPECT_EQ(kv.pool().ref_count(table_of(kv, id)[2]), 1);
  EXPECT_EQ(kv.pool().num_free_blocks(), 1);
}

TEST_F(CopyOnWrite, WritesPastTheSharedBlocksCopyNothing) {
  ASSERT_TRUE(kv.allocate_slots(1, 12, 13));  // token 12 starts a fourth block
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(kv.pool().ref_count(shared[2]), 3);
}

TEST_F(CopyOnWrite, WithoutAFreeBlockForTheCopyNothingChanges) {
  ASSERT_TRUE(kv.allocate_slots(1, 10, 20));  // one copy and two new blocks: every block is used
  ASSERT_EQ(kv.pool().num_free_blocks(), 0);
  const std::vector<int32_t> before = table_of(kv, 2);
  EXPECT_FALSE(kv.allocate_slots(2, 9, 10));
  EXPECT_EQ(table_of(kv, 2), before);
  EXPECT_EQ(take().size(), 1u) << "only the first sequence's copy";
  EXPECT_EQ(kv.pool().ref_count(shared[2]), 2);
  EXPECT_EQ(kv.pool().num_free_blocks(), 0);
}

TEST_F(CopyOnWrite, FreeingTheWriterDropsItsPendingCopy) {
  ASSERT_TRUE(kv.allocate_slots(1, 10, 11));
  kv.free(1);  // preempted in the same step
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(kv.pool().ref_count(shared[2]), 2);
  EXPECT_EQ(kv.pool().num_used_blocks(), 3);
}

TEST_F(CopyOnWrite, APendingCopyKeepsItsSourceWhenEveryTableLetsGo) {
  ASSERT_TRUE(kv.allocate_slots(1, 10, 11));
  const int32_t copy = table_of(kv, 1)[2];
  kv.free(2);
  kv.free(3);
  EXPECT_EQ(kv.pool().ref_count(shared[2]), 1) << "held by the copy alone";
  const auto free_ids = kv.pool().free_block_ids();
  EXPECT_EQ(std::ranges::count(free_ids, shared[2]), 0) << "so it cannot be handed out before the copy runs";
  EXPECT_EQ(take(), (std::vector<BlockCopy>{{.src = shared[2], .dst = copy}}));
  EXPECT_EQ(kv.pool().ref_count(shared[2]), 0);
  kv.free(1);
  EXPECT_EQ(kv.pool().num_used_blocks(), 0) << "no block leaks";
}

TEST(KvCacheManager, AWriteIntoACachedBlockCopiesItEvenWithOneHolder) {
  KvCacheManager kv({.block_size = 2, .num_blocks = 4});
  const std::vector<int32_t> ids = iota_tokens(4);
  std::vector<uint64_t> hashes;
  kv.extend_block_hashes(hashes, ids);
  ASSERT_TRUE(kv.allocate_new(1, PrefixMatch{}, 4));
  kv.cache_blocks(1, hashes, ids, 4);
  kv.fork(1, 2, 3);  // the child recomputes token 3, in the cached second block
  kv.free(1);
  const int32_t cached = table_of(kv, 2)[1];
  ASSERT_EQ(kv.pool().ref_count(cached), 1);
  ASSERT_TRUE(kv.allocate_slots(2, 3, 4));
  std::vector<BlockCopy> copies;
  kv.take_block_copies(copies);
  EXPECT_EQ(copies, (std::vector<BlockCopy>{{.src = cached, .dst = table_of(kv, 2)[1]}}));
  EXPECT_TRUE(kv.pool().is_cached(cached)) << "the cached content is kept as it was";
  EXPECT_EQ(kv.pool().ref_count(cached), 0);
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
  EXPECT_THROW(kv.allocate_slots(9, 0, 4), Error);
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
