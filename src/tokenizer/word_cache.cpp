#include "tokenizer/word_cache.h"

namespace tern {

WordCache::WordCache() {
  for (Shard& shard : shards_) shard.sets.resize(kSetsPerShard);
}

bool WordCache::lookup(std::string_view word, std::vector<int32_t>& ids) const {
  if (word.size() > kMaxWordBytes) return false;
  const uint64_t hash = StringHash{}(word);
  Shard& shard = shards_[hash % kShards];
  std::lock_guard lock(shard.mutex);
  Set& set = shard.sets[(hash / kShards) % kSetsPerShard];
  for (uint8_t way = 0; way < 2; ++way) {
    const Entry& entry = set.ways[way];
    if (entry.hash == hash && entry.word == word) {
      set.recent = way;
      ids.insert(ids.end(), entry.ids.begin(), entry.ids.end());
      return true;
    }
  }
  return false;
}

void WordCache::insert(std::string_view word, const int32_t* ids, size_t count) {
  if (word.empty() || word.size() > kMaxWordBytes) return;
  const uint64_t hash = StringHash{}(word);
  Shard& shard = shards_[hash % kShards];
  std::lock_guard lock(shard.mutex);
  Set& set = shard.sets[(hash / kShards) % kSetsPerShard];
  set.recent = set.ways[0].word.empty() ? 0 : 1 - set.recent;
  Entry& entry = set.ways[set.recent];
  entry.hash = hash;
  entry.word.assign(word);
  entry.ids.assign(ids, ids + count);
}

}  // namespace tern
