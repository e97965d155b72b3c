// Prefix-cache keys. A full block's hash chains over its parent block's hash and its own
// token ids, so equal hashes stand for equal prefixes. The hash is fast, not cryptographic:
// BlockPool never trusts it alone (a hit also compares the block's tokens and the identity
// of its parent block), so a collision, accidental or crafted, can only cost a cache miss.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tern {

// Parent hash of a sequence's first block.
inline constexpr uint64_t kRootBlockHash = 0x6a09e667f3bcc908ULL;

uint64_t hash_block(uint64_t parent_hash, std::span<const int32_t> token_ids);

// Extends `block_hashes` (one per full block of `token_ids`, in order) with the hashes of
// the blocks that became full since it was last extended. Blocks are `block_size` tokens.
void extend_block_hashes(std::vector<uint64_t>& block_hashes, std::span<const int32_t> token_ids, int32_t block_size);

}  // namespace tern
