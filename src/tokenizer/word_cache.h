// Thread-safe cache from a pre-tokenized word (raw bytes) to its BPE ids: a two-way
// set-associative table (an insert evicts the less recently used word of its set), so a
// lookup touches one set instead of walking a bucket chain. Sharded by hash so that
// concurrent encoders rarely contend.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace tern {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class WordCache {
 public:
  // Longer words are not cached (they are rare and would evict many short ones).
  static constexpr size_t kMaxWordBytes = 256;

  WordCache();

  // Appends the cached ids of `word` and returns true, or returns false on a miss.
  bool lookup(std::string_view word, std::vector<int32_t>& ids) const;
  void insert(std::string_view word, const int32_t* ids, size_t count);

 private:
  static constexpr size_t kShards = 16;
  static constexpr size_t kSetsPerShard = 4096;
  struct Entry {
    uint64_t hash = 0;
    std::string word;  // empty: free slot
    std::vector<int32_t> ids;
  };
  struct Set {
    Entry ways[2];
    uint8_t recent = 0;  // the way used last
  };
  struct Shard {
    std::mutex mutex;
    std::vector<Set> sets;
  };

  mutable Shard shards_[kShards];
};

}  // namespace tern
