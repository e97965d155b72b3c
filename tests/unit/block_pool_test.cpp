// BlockPool: ids, reference counts, the free list in eviction order, and exact prefix-cache
// lookups; plus the chained block hash.
#include "kv/block_pool.h"

#include <gtest/gtest.h>

#include <vector>

#include "base/error.h"
#include "kv/block_hash.h"

namespace tern {
namespace {

std::vector<int32_t> tokens(std::initializer_list<int32_t> ids) { return ids; }

TEST(BlockPool, AllocatesFromTheHeadAndKeepsFreePlusUsedEqualTotal) {
  BlockPool pool(4, 2);
  std::vector<int32_t> ids;
  ASSERT_TRUE(pool.allocate(3, ids));
  EXPECT_EQ(ids, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(pool.num_free_blocks(), 1);
  EXPECT_EQ(pool.num_used_blocks(), 3);
  for (int32_t id : ids) EXPECT_EQ(pool.ref_count(id), 1);

  EXPECT_FALSE(pool.allocate(2, ids)) << "only one block is free";
  EXPECT_EQ(ids.size(), 3u) << "a failed allocation changes nothing";
  EXPECT_EQ(pool.num_free_blocks(), 1);
}

TEST(BlockPool, ReleaseFreesOnlyAtRefCountZero) {
  BlockPool pool(2, 2);
  std::vector<int32_t> ids;
  ASSERT_TRUE(pool.allocate(1, ids));
  pool.acquire(ids[0]);
  EXPECT_EQ(pool.ref_count(ids[0]), 2);
  pool.release(ids);
  EXPECT_EQ(pool.ref_count(ids[0]), 1);
  EXPECT_EQ(pool.num_free_blocks(), 1);
  pool.release(ids);
  EXPECT_EQ(pool.num_free_blocks(), 2);
}

TEST(BlockPool, DoubleFreeThrows) {
  BlockPool pool(2, 2);
  std::vector<int32_t> ids;
  ASSERT_TRUE(pool.allocate(1, ids));
  pool.release(ids);
  EXPECT_THROW(pool.release(ids), Error);
  EXPECT_EQ(pool.num_free_blocks(), 2);
}

TEST(BlockPool, FreeListPutsUncachedFirstThenCachedLeastRecentlyReleased) {
  BlockPool pool(4, 2);
  std::vector<int32_t> ids;
  ASSERT_TRUE(pool.allocate(4, ids));
  pool.register_cached(1, 11, BlockRef{}, tokens({1, 1}));
  pool.register_cached(2, 22, BlockRef{}, tokens({2, 2}));
  pool.release(std::vector<int32_t>{2, 1, 3, 0});
  // Uncached 3 then 0 went to the head; cached 2 then 1 to the tail.
  EXPECT_EQ(pool.free_block_ids(), (std::vector<int32_t>{0, 3, 2, 1}));

  std::vector<int32_t> taken;
  ASSERT_TRUE(pool.allocate(3, taken));
  EXPECT_EQ(taken, (std::vector<int32_t>{0, 3, 2}));
  EXPECT_FALSE(pool.is_cached(2)) << "reusing a cached block drops its entry";
  EXPECT_FALSE(pool.find_cached(22, BlockRef{}, tokens({2, 2})));
  EXPECT_TRUE(pool.find_cached(11, BlockRef{}, tokens({1, 1}))) << "block 1 is still free and cached";
}

TEST(BlockPool, AcquiringAFreeCachedBlockRevivesIt) {
  BlockPool pool(3, 2);
  std::vector<int32_t> ids;
  ASSERT_TRUE(pool.allocate(1, ids));
  const BlockRef ref = pool.register_cached(ids[0], 7, BlockRef{}, tokens({5, 6}));
  pool.release(ids);
  EXPECT_EQ(pool.num_free_blocks(), 3);

  const auto hit = pool.find_cached(7, BlockRef{}, tokens({5, 6}));
  ASSERT_TRUE(hit);
  EXPECT_EQ(*hit, ref);
  pool.acquire(hit->id);
  EXPECT_EQ(pool.ref_count(hit->id), 1);
  EXPECT_EQ(pool.num_free_blocks(), 2);
  const std::vector<int32_t> free_ids = pool.free_block_ids();
  EXPECT_EQ(std::count(free_ids.begin(), free_ids.end(), hit->id), 0);
}

TEST(BlockPool, AcquiringAFreeUncachedBlockThrows) {
  BlockPool pool(2, 2);
  EXPECT_THROW(pool.acquire(0), Error);
}

TEST(BlockPool, LookupComparesTokensAndParentNotJustTheHash) {
  BlockPool pool(4, 2);
  std::vector<int32_t> ids;
  ASSERT_TRUE(pool.allocate(2, ids));
  const BlockRef parent = pool.register_cached(ids[0], 100, BlockRef{}, tokens({1, 2}));
  pool.register_cached(ids[1], 200, parent, tokens({3, 4}));

  EXPECT_TRUE(pool.find_cached(200, parent, tokens({3, 4})));
  EXPECT_FALSE(pool.find_cached(200, parent, tokens({3, 5}))) << "same hash, other tokens: a collision";
  EXPECT_FALSE(pool.find_cached(200, BlockRef{}, tokens({3, 4}))) << "same hash and tokens after another parent";
  EXPECT_FALSE(pool.find_cached(201, parent, tokens({3, 4})));
}

TEST(BlockPool, AReusedParentIdNeverMatchesAnOldChild) {
  BlockPool pool(2, 2);
  std::vector<int32_t> ids;
  ASSERT_TRUE(pool.allocate(2, ids));
  const BlockRef old_parent = pool.register_cached(0, 100, BlockRef{}, tokens({1, 2}));
  pool.register_cached(1, 200, old_parent, tokens({3, 4}));
  pool.release(std::vector<int32_t>{0});  // block 0 alone goes free, then is reused
  std::vector<int32_t> again;
  ASSERT_TRUE(pool.allocate(1, again));
  ASSERT_EQ(again[0], 0);
  const BlockRef new_parent = pool.register_cached(0, 300, BlockRef{}, tokens({9, 9}));
  EXPECT_EQ(new_parent.id, old_parent.id);
  EXPECT_NE(new_parent, old_parent);
  EXPECT_FALSE(pool.find_cached(200, new_parent, tokens({3, 4})));
}

TEST(BlockPool, RegisteringUnderATakenHashReplacesTheOldEntry) {
  BlockPool pool(3, 2);
  std::vector<int32_t> ids;
  ASSERT_TRUE(pool.allocate(2, ids));
  pool.register_cached(0, 5, BlockRef{}, tokens({1, 1}));
  pool.release(std::vector<int32_t>{0});
  pool.register_cached(1, 5, BlockRef{}, tokens({2, 2}));
  EXPECT_FALSE(pool.is_cached(0));
  EXPECT_FALSE(pool.find_cached(5, BlockRef{}, tokens({1, 1})));
  EXPECT_TRUE(pool.find_cached(5, BlockRef{}, tokens({2, 2})));
  EXPECT_EQ(pool.free_block_ids().front(), 0) << "the dropped block holds nothing and is reused first";
}

TEST(BlockHash, ChainsOverParentAndTokens) {
  const std::vector<int32_t> a = {1, 2, 3, 4};
  const std::vector<int32_t> b = {1, 2, 4, 3};
  EXPECT_EQ(hash_block(kRootBlockHash, a), hash_block(kRootBlockHash, a));
  EXPECT_NE(hash_block(kRootBlockHash, a), hash_block(kRootBlockHash, b));
  EXPECT_NE(hash_block(kRootBlockHash, a), hash_block(kRootBlockHash + 1, a));
  EXPECT_NE(hash_block(kRootBlockHash, std::vector<int32_t>{0}),
            hash_block(kRootBlockHash, std::vector<int32_t>{0, 0}));
}

TEST(BlockHash, ExtendHashesOnlyFullBlocksIncrementally) {
  std::vector<int32_t> ids = {1, 2, 3, 4, 5, 6, 7};
  std::vector<uint64_t> hashes;
  extend_block_hashes(hashes, ids, 3);
  ASSERT_EQ(hashes.size(), 2u);
  EXPECT_EQ(hashes[0], hash_block(kRootBlockHash, std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(hashes[1], hash_block(hashes[0], std::vector<int32_t>{4, 5, 6}));
  ids.push_back(8);
  ids.push_back(9);
  extend_block_hashes(hashes, ids, 3);
  ASSERT_EQ(hashes.size(), 3u);
  EXPECT_EQ(hashes[2], hash_block(hashes[1], std::vector<int32_t>{7, 8, 9}));
}

}  // namespace
}  // namespace tern
