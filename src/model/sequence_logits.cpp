#include "model/sequence_logits.h"

#include <algorithm>
#include <numeric>

#include "base/error.h"

namespace tern {
namespace {
constexpr int64_t kBlockSize = 16;
}

SequenceLogits::SequenceLogits(const LlamaModel& model, int64_t max_tokens, int64_t chunk_tokens)
    : model_(model),
      backend_(model.backend()),
      max_tokens_(max_tokens),
      chunk_tokens_(std::min(chunk_tokens, max_tokens)),
      block_size_(kBlockSize) {
  if (max_tokens < 1 || chunk_tokens < 1)
    throw error("sequence logits: max_tokens (", max_tokens, ") and chunk_tokens (", chunk_tokens,
                ") must be positive");
  const int64_t blocks = (max_tokens_ + block_size_ - 1) / block_size_;
  cache_ = model_.make_kv_cache(blocks, block_size_);
  workspace_ = model_.make_workspace(chunk_tokens_, chunk_tokens_);

  std::vector<int32_t> iota(size_t(std::max(max_tokens_, blocks)));
  std::iota(iota.begin(), iota.end(), 0);
  auto upload = [&](int64_t count) {
    Tensor t = backend_.alloc(DType::kI32, {count});
    backend_.copy_from_host(t, iota.data());
    return t;
  };
  positions_ = upload(max_tokens_);
  rows_ = upload(chunk_tokens_);
  block_table_ = upload(blocks).reshape({1, blocks});
  ids_ = backend_.alloc(DType::kI32, {chunk_tokens_});
  query_start_ = backend_.alloc(DType::kI32, {2});
  seq_len_ = backend_.alloc(DType::kI32, {1});
  host_logits_.resize(size_t(chunk_tokens_ * vocab_size()));
}

void SequenceLogits::run(std::span<const int32_t> ids, const ChunkFn& on_chunk) {
  const int64_t n = int64_t(ids.size());
  if (n < 1 || n > max_tokens_)
    throw error("sequence logits: ", n, " tokens, but this evaluator takes 1 to ", max_tokens_);
  for (int64_t i = 0; i < n; ++i)
    if (ids[size_t(i)] < 0 || ids[size_t(i)] >= vocab_size())
      throw error("sequence logits: token id ", ids[size_t(i)], " at position ", i,
                  " is outside the model's vocabulary of ", vocab_size());
  for (int64_t first = 0; first < n; first += chunk_tokens_) {
    const int64_t rows = std::min(chunk_tokens_, n - first);
    const int32_t query_start[2] = {0, int32_t(rows)}, seq_len = int32_t(first + rows);
    Tensor chunk_ids = ids_.slice_rows(0, rows);
    backend_.copy_from_host(chunk_ids, ids.data() + first);
    backend_.copy_from_host(query_start_, query_start);
    backend_.copy_from_host(seq_len_, &seq_len);
    ForwardInputs in;
    in.token_ids = chunk_ids;
    in.positions = positions_.slice_rows(first, first + rows);
    in.slot_mapping = in.positions;  // block b of the table is cache block b
    in.logits_indices = rows_.slice_rows(0, rows);
    in.attention = AttentionMetadata{.num_seqs = 1,
                                     .max_query_len = int(rows),
                                     .max_seq_len = seq_len,
                                     .query_start = query_start_,
                                     .seq_lens = seq_len_,
                                     .block_tables = block_table_};
    const Tensor logits = model_.forward(in, cache_, workspace_);
    backend_.copy_to_host(logits, host_logits_.data());
    on_chunk(first, host_logits_.data(), rows);
  }
}

std::vector<float> SequenceLogits::all(std::span<const int32_t> ids) {
  std::vector<float> out(ids.size() * size_t(vocab_size()));
  run(ids, [&](int64_t first, const float* logits, int64_t rows) {
    std::copy_n(logits, rows * vocab_size(), out.begin() + first * vocab_size());
  });
  return out;
}

}  // namespace tern
