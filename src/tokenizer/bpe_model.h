// tokenizer.json "model" of type BPE over the byte-level alphabet: vocab, merges (as
// "a b" strings or ["a", "b"] pairs), ignore_merges, unk_token / fuse_unk. Words are
// encoded from their raw bytes; results are cached per word.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/cancel.h"
#include "tokenizer/json_node.h"
#include "tokenizer/word_cache.h"

namespace tern {

class BpeModel {
 public:
  // Throws tern::Error naming the field for: a type other than BPE, ids that are not
  // 0..size-1 each exactly once, merges naming unknown tokens or producing a token that
  // is not in the vocabulary, options it does not implement (dropout, byte_fallback,
  // continuing_subword_prefix, end_of_word_suffix).
  static std::unique_ptr<BpeModel> from_json(const JsonNode& model);

  // Appends the ids of one pre-tokenized word, given as raw bytes. Thread-safe. A long run
  // of one byte (8 MB of spaces) takes linear time; any other word O(n log n), polling
  // `cancel` (when given) every few thousand merges and throwing Cancelled once it is set.
  void encode_word(std::string_view word, std::vector<int32_t>& ids, const CancelFlag* cancel = nullptr) const;
  // HF's merge of `word` as it is, without the word cache or the run shortcut: the
  // reference encode_word must equal (tests compare them).
  void merge_word(std::string_view word, std::vector<int32_t>& ids, const CancelFlag* cancel = nullptr) const;

  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  // The vocabulary string of `id` (0 <= id < size()).
  const std::string& token(int32_t id) const { return tokens_[id]; }
  std::optional<int32_t> token_to_id(std::string_view token) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  // A run of one byte c, n long, in closed form. When every merge among tokens made only
  // of c has a higher rank than the merges that make its two parts (true of trained
  // vocabularies), HF's merge order is "each rule in rank order, left to right", so the
  // run's middle stays uniform: c doubles while (t, t) merges exist, into `bulk_id`
  // (`bulk_bytes` long), aligned from the run's start; only the last `tail_bytes` can
  // differ (each rule moves the ragged end left by at most two tokens). The run is then
  // bulk_id repeated, followed by the plain merge of its last tail_bytes..tail_bytes +
  // bulk_bytes bytes.
  struct UniformRun {
    int32_t bulk_id = -1;  // -1: no closed form for this byte; merge the whole run
    int64_t bulk_bytes = 0;
    int64_t tail_bytes = 0;
  };
  const Merge* find_merge(int32_t left, int32_t right) const;
  void find_uniform_runs();
  bool encode_uniform_run(std::string_view word, std::vector<int32_t>& ids, const CancelFlag* cancel) const;

  std::vector<std::string> tokens_;                                            // id -> vocabulary string
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids_;  // vocabulary string -> id
  // Raw bytes -> id, built only for ignore_merges.
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids_by_bytes_;
  std::array<int32_t, 256> byte_ids_{};         // id of each single-byte token, -1 when absent
  std::array<UniformRun, 256> uniform_runs_{};  // per byte
  std::unordered_map<uint64_t, Merge> merges_;  // (left id, right id) -> rank and merged id
  bool ignore_merges_ = false;
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false;
  mutable WordCache cache_;
};

}  // namespace tern
