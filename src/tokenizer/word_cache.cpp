#include "tokenizer/word_cache.h"

namespace tern {

WordCache::Shard& WordCache::shard_for(std::string_view word) const { return shards_[StringHash{}(word) % kShards]; }

bool WordCache::lookup(std::string_view word, std::vector<int32_t>& ids) const {
  if (word.size() > kMaxWordBytes) return false;
  Shard& shard = shard_for(word);
  std::lock_guard lock(shard.mutex);
  auto it = shard.map.find(word);
  if (it == shard.map.end()) return false;
  ids.insert(ids.end(), it->second.begin(), it->second.end());
  return true;
}

void WordCache::insert(std::string_view word, const int32_t* ids, size_t count) {
  if (word.size() > kMaxWordBytes) return;
  Shard& shard = shard_for(word);
  std::lock_guard lock(shard.mutex);
  if (shard.map.size() >= kMaxEntriesPerShard) shard.map.clear();
  shard.map.emplace(word, std::vector<int32_t>(ids, ids + count));
}

}  // namespace tern
