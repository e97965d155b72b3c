// Prefix caching through KvCacheManager: what a new sequence reuses, when blocks enter the
// cache, and which cached blocks are evicted.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "kv/kv_cache_manager.h"

namespace tern {
namespace {

constexpr int32_t kBlock = 4;

struct Seq {
  uint64_t id;
  std::vector<int32_t> tokens;
  std::vector<uint64_t> hashes;
};

class PrefixCacheTest : public ::testing::Test {
 protected:
  Seq make(uint64_t id, std::vector<int32_t> tokens) {
    Seq s{id, std::move(tokens), {}};
    kv_.extend_block_hashes(s.hashes, s.tokens);
    return s;
  }
  // Admits the sequence with whatever prefix it matches; returns the matched token count.
  int32_t admit(const Seq& s) {
    const PrefixMatch match = kv_.match_prefix(s.hashes, s.tokens);
    const int32_t hit = match.num_tokens;
    EXPECT_TRUE(kv_.allocate_new(s.id, match, static_cast<int32_t>(s.tokens.size())));
    return hit;
  }
  // Admits, computes everything, caches and frees: the sequence ran to completion.
  int32_t run(const Seq& s) {
    const int32_t hit = admit(s);
    kv_.cache_blocks(s.id, s.hashes, s.tokens, static_cast<int32_t>(s.tokens.size()));
    kv_.free(s.id);
    return hit;
  }

  KvCacheManager kv_{{.block_size = kBlock, .num_blocks = 8}};
};

std::vector<int32_t> range(int32_t first, int32_t n) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST_F(PrefixCacheTest, ASharedPrefixIsReusedWholeBlocksOnly) {
  EXPECT_EQ(run(make(1, range(0, 14))), 0);
  // Shares 3 blocks and 2 more tokens; only whole blocks count.
  EXPECT_EQ(run(make(2, concat(range(0, 14), range(100, 3)))), 12);
  EXPECT_EQ(run(make(3, concat(range(0, 5), range(200, 8)))), 4);
  EXPECT_EQ(run(make(4, range(1, 14))), 0) << "a different first token shares nothing";
}

TEST_F(PrefixCacheTest, AFullyCachedPromptStillComputesItsLastToken) {
  run(make(1, range(0, 12)));
  // 12 tokens, all cached: the hit is capped to (12 - 1) / 4 = 2 blocks.
  EXPECT_EQ(run(make(2, range(0, 12))), 8);
  // A prompt ending mid-block: (10 - 1) / 4 = 2 blocks.
  EXPECT_EQ(run(make(3, range(0, 10))), 8);
  EXPECT_EQ(run(make(4, range(0, 13))), 12);
}

TEST_F(PrefixCacheTest, CountsQueriedAndHitTokens) {
  run(make(1, range(0, 12)));
  run(make(2, range(0, 13)));
  EXPECT_EQ(kv_.prefix_cache_queried_tokens(), 25);
  EXPECT_EQ(kv_.prefix_cache_hit_tokens(), 12);
}

TEST_F(PrefixCacheTest, OnlyComputedFullBlocksEnterTheCache) {
  const Seq s = make(1, range(0, 12));
  admit(s);
  kv_.cache_blocks(s.id, s.hashes, s.tokens, 7);
  EXPECT_EQ(kv_.match_prefix(s.hashes, s.tokens).num_tokens, 4);
  kv_.cache_blocks(s.id, s.hashes, s.tokens, 12);
  EXPECT_EQ(kv_.match_prefix(s.hashes, s.tokens).num_tokens, 8);
}

TEST_F(PrefixCacheTest, FreedWithoutCachingLeavesNothingBehind) {
  // What the engine does with a sequence whose logits had NaN/Inf.
  const Seq s = make(1, range(0, 12));
  admit(s);
  kv_.free(s.id);
  EXPECT_EQ(run(make(2, range(0, 12))), 0);
}

TEST_F(PrefixCacheTest, IdenticalBlocksComputedTwiceKeepOneEntryAndTheChainContinues) {
  const Seq a = make(1, range(0, 8));
  const Seq b = make(2, range(0, 12));
  admit(a);
  admit(b);  // both computed the first 8 tokens themselves
  kv_.cache_blocks(a.id, a.hashes, a.tokens, 8);
  kv_.cache_blocks(b.id, b.hashes, b.tokens, 12);
  const auto a_table = kv_.block_table(a.id);
  const auto b_table = kv_.block_table(b.id);
  EXPECT_TRUE(kv_.pool().is_cached(a_table[0]));
  EXPECT_FALSE(kv_.pool().is_cached(b_table[0])) << "a twin of a cached block stays out";
  EXPECT_TRUE(kv_.pool().is_cached(b_table[2])) << "b's own third block chains after a's blocks";

  const Seq c = make(3, range(0, 13));
  const PrefixMatch match = kv_.match_prefix(c.hashes, c.tokens);
  ASSERT_EQ(match.num_tokens, 12);
  EXPECT_EQ(match.blocks[0].id, a_table[0]);
  EXPECT_EQ(match.blocks[1].id, a_table[1]);
  EXPECT_EQ(match.blocks[2].id, b_table[2]);
}

TEST_F(PrefixCacheTest, EvictsLeastRecentlyUsedUnreferencedBlocksOnly) {
  run(make(1, range(0, 8)));    // 2 cached blocks, freed first
  run(make(2, range(100, 8)));  // 2 more, freed later
  const Seq held = make(3, range(200, 8));
  admit(held);
  kv_.cache_blocks(held.id, held.hashes, held.tokens, 8);  // cached and still referenced

  // 2 blocks were never used; taking 4 fresh blocks evicts the 2 of sequence 1, the oldest.
  ASSERT_TRUE(kv_.allocate_new(9, PrefixMatch{}, 16));
  kv_.free(9);
  EXPECT_EQ(run(make(4, range(0, 9))), 0);
  EXPECT_EQ(run(make(5, range(100, 9))), 8);
  EXPECT_EQ(admit(make(6, range(200, 9))), 8) << "a referenced cached block is never evicted";
}

TEST_F(PrefixCacheTest, AHitOnAFreeCachedBlockCountsAgainstFreeBlocks) {
  run(make(1, range(0, 16)));  // 4 cached free blocks, 4 never used
  const Seq s = make(2, concat(range(0, 16), range(50, 16)));
  // The 4 hit blocks are free, so they leave only 4 other free blocks for fresh ones.
  const PrefixMatch match = kv_.match_prefix(s.hashes, s.tokens);
  ASSERT_EQ(match.num_tokens, 16);
  EXPECT_FALSE(kv_.allocate_new(2, match, 36)) << "needs 5 fresh blocks";
  EXPECT_TRUE(kv_.allocate_new(2, match, 32));
  EXPECT_EQ(kv_.pool().num_free_blocks(), 0);
}

}  // namespace
}  // namespace tern
