// Compiled grammars by their text, so that requests with the same JSON schema, regex,
// choice list, grammar or tools compile once (automaton and token masks). Keyed by the
// grammar IR printed as GBNF, which is the same for the same constraint however it was
// written in the request. Least recently used entries go first beyond the capacity;
// requests in flight keep theirs alive. Thread-safe: compilation runs outside the lock.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "grammar/compiled_grammar.h"

namespace tern::server {

class GrammarCache {
 public:
  GrammarCache(std::shared_ptr<const grammar::Vocabulary> vocabulary, size_t capacity = 64);

  // The compiled grammar; throws tern::Error when it does not compile.
  std::shared_ptr<const grammar::CompiledGrammar> get(const grammar::Grammar& g);

  int64_t hits() const;
  int64_t misses() const;

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const grammar::CompiledGrammar>>;

  std::shared_ptr<const grammar::Vocabulary> vocabulary_;
  size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> by_key_;
  int64_t hits_ = 0, misses_ = 0;
};

}  // namespace tern::server
