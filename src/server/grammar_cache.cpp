#include "server/grammar_cache.h"

namespace tern::server {

GrammarCache::GrammarCache(std::shared_ptr<const grammar::Vocabulary> vocabulary, size_t capacity)
    : vocabulary_(std::move(vocabulary)), capacity_(capacity) {}

std::shared_ptr<const grammar::CompiledGrammar> GrammarCache::get(const grammar::Grammar& g) {
  std::string key = g.to_gbnf();
  {
    std::lock_guard lock(mutex_);
    if (const auto it = by_key_.find(key); it != by_key_.end()) {
      entries_.splice(entries_.begin(), entries_, it->second);
      ++hits_;
      return it->second->second;
    }
    ++misses_;
  }
  // Two requests may compile the same grammar at once; the second insert keeps the first.
  std::shared_ptr<const grammar::CompiledGrammar> compiled = grammar::CompiledGrammar::compile(g, vocabulary_);
  std::lock_guard lock(mutex_);
  if (const auto it = by_key_.find(key); it != by_key_.end()) return it->second->second;
  entries_.emplace_front(std::move(key), compiled);
  by_key_.emplace(entries_.front().first, entries_.begin());
  while (entries_.size() > capacity_) {
    by_key_.erase(entries_.back().first);
    entries_.pop_back();
  }
  return compiled;
}

int64_t GrammarCache::hits() const {
  std::lock_guard lock(mutex_);
  return hits_;
}

int64_t GrammarCache::misses() const {
  std::lock_guard lock(mutex_);
  return misses_;
}

}  // namespace tern::server
