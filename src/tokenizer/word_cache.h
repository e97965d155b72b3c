// Thread-safe cache from a pre-tokenized word (raw bytes) to its BPE ids. Sharded by
// hash so that concurrent encoders rarely contend; a shard that fills up is cleared.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tern {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class WordCache {
 public:
  // Words longer than this are not cached (they are rare and would crowd the cache).
  static constexpr size_t kMaxWordBytes = 256;

  // Appends the cached ids of `word` and returns true, or returns false on a miss.
  bool lookup(std::string_view word, std::vector<int32_t>& ids) const;
  void insert(std::string_view word, const int32_t* ids, size_t count);

 private:
  static constexpr size_t kShards = 16;
  static constexpr size_t kMaxEntriesPerShard = 8192;
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> map;
  };
  Shard& shard_for(std::string_view word) const;
  mutable Shard shards_[kShards];
};

}  // namespace tern
