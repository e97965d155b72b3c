// Teacher-forced logits: the forward over one token sequence from position 0 with the
// logits of every position kept, as language-model evaluation (perplexity) and
// model-level tests need them. The engine's ModelRunner keeps only the rows it samples.
//
// The sequence runs in chunks through a private KV cache, exactly like a chunked prefill,
// so activations and the [chunk, vocab] logits buffer stay bounded however long it is.
// Works on any backend: inputs are copied to the device and logits back to the host.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "model/llama_model.h"

namespace tern {

class SequenceLogits {
 public:
  // For sequences of up to max_tokens tokens, computed at most chunk_tokens per forward
  // step. Allocates the KV cache and activations on the model's backend once.
  SequenceLogits(const LlamaModel& model, int64_t max_tokens, int64_t chunk_tokens = 512);

  int64_t max_tokens() const { return max_tokens_; }
  int64_t vocab_size() const { return model_.config().vocab_size; }

  // Called once per chunk, in order: logits [rows, vocab] F32 on the host for positions
  // [first, first + rows); row r holds the scores of the token that follows position
  // first + r. The pointer is valid only during the call.
  using ChunkFn = std::function<void(int64_t first, const float* logits, int64_t rows)>;

  // Runs `ids` (1 to max_tokens ids, each below vocab_size()) from position 0; nothing
  // from an earlier call is seen. Throws tern::Error for a bad length or id.
  void run(std::span<const int32_t> ids, const ChunkFn& on_chunk);

  // The logits of every position of `ids`: [ids.size(), vocab] F32, row-major.
  std::vector<float> all(std::span<const int32_t> ids);

  // The KV cache of the last run: the K and V of position p are in slot p.
  const std::vector<KvCacheLayer>& kv_cache() const { return cache_; }

 private:
  const LlamaModel& model_;
  Backend& backend_;
  int64_t max_tokens_, chunk_tokens_, block_size_;
  std::vector<KvCacheLayer> cache_;
  Workspace workspace_;
  // Device inputs of one chunk: ids, positions (which are also the KV slots: block b of
  // the table is cache block b), logits rows 0..rows-1, query start, seq len, table.
  Tensor ids_, positions_, rows_, query_start_, seq_len_, block_table_;
  std::vector<int32_t> host_positions_;
  std::vector<float> host_logits_;
};

}  // namespace tern
