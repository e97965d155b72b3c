#include "kv/block_hash.h"

namespace tern {
namespace {

// The 64-bit finaliser of splitmix64: a bijection with full avalanche.
uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

uint64_t hash_block(uint64_t parent_hash, std::span<const int32_t> token_ids) {
  uint64_t h = mix64(parent_hash ^ (token_ids.size() * 0x9e3779b97f4a7c15ULL));
  size_t i = 0;
  for (; i + 1 < token_ids.size(); i += 2) {
    const uint64_t word =
        static_cast<uint32_t>(token_ids[i]) | (uint64_t{static_cast<uint32_t>(token_ids[i + 1])} << 32);
    h = mix64(h ^ word) + 0x2545f4914f6cdd1dULL;
  }
  if (i < token_ids.size()) h = mix64(h ^ static_cast<uint32_t>(token_ids[i])) + 0x2545f4914f6cdd1dULL;
  return mix64(h);
}

void extend_block_hashes(std::vector<uint64_t>& block_hashes, std::span<const int32_t> token_ids, int32_t block_size) {
  const size_t num_full = token_ids.size() / static_cast<size_t>(block_size);
  while (block_hashes.size() < num_full) {
    const uint64_t parent = block_hashes.empty() ? kRootBlockHash : block_hashes.back();
    block_hashes.push_back(hash_block(parent, token_ids.subspan(block_hashes.size() * block_size, block_size)));
  }
}

}  // namespace tern
