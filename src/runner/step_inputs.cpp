#include "runner/step_inputs.h"

#include <algorithm>

#include "base/error.h"

namespace tern {

StepInputs::StepInputs(Backend& be, const EngineSizes& c) : backend_(be), sizes_(c) {
  max_blocks_per_seq_ = (c.max_model_len + c.block_size - 1) / c.block_size;
  const int64_t t = c.max_num_batched_tokens, s = c.max_num_seqs, tables = s * max_blocks_per_seq_;
  h_token_ids_ = be.alloc_staging(DType::kI32, {t});
  h_positions_ = be.alloc_staging(DType::kI32, {t});
  h_slots_ = be.alloc_staging(DType::kI32, {t});
  h_query_start_ = be.alloc_staging(DType::kI32, {s + 1});
  h_seq_lens_ = be.alloc_staging(DType::kI32, {s});
  h_block_tables_ = be.alloc_staging(DType::kI32, {tables});
  h_logits_rows_ = be.alloc_staging(DType::kI32, {c.max_logits_rows()});
  h_block_copies_ = be.alloc_staging(DType::kI32, {s, 2});
  d_token_ids_ = be.alloc(DType::kI32, {t});
  d_positions_ = be.alloc(DType::kI32, {t});
  d_slots_ = be.alloc(DType::kI32, {t});
  d_query_start_ = be.alloc(DType::kI32, {s + 1});
  d_seq_lens_ = be.alloc(DType::kI32, {s});
  d_block_tables_ = be.alloc(DType::kI32, {tables});
  d_logits_rows_ = be.alloc(DType::kI32, {c.max_logits_rows()});
  d_block_copies_ = be.alloc(DType::kI32, {s, 2});
  // Padding rows point at block 0: attention reads it harmlessly, nothing writes it.
  std::fill_n(h_block_tables_.ptr<int32_t>(), tables, 0);
}

void StepInputs::build(const StepBatch& batch, int32_t pad_to, int64_t vocab_size) {
  const int32_t real = int32_t(batch.seqs.size());
  const int32_t seqs = std::max(real, pad_to);
  TERN_CHECK(real > 0 && seqs <= sizes_.max_num_seqs, "step of ", seqs, " sequences, at most ", sizes_.max_num_seqs);
  const int32_t bs = sizes_.block_size;
  int32_t* ids = h_token_ids_.ptr<int32_t>();
  int32_t* pos = h_positions_.ptr<int32_t>();
  int32_t* slots = h_slots_.ptr<int32_t>();
  int32_t* starts = h_query_start_.ptr<int32_t>();
  int32_t* lens = h_seq_lens_.ptr<int32_t>();
  int32_t* rows = h_logits_rows_.ptr<int32_t>();
  int64_t t = 0;
  int32_t sampled = 0, max_query_len = 0, max_seq_len = 0;
  starts[0] = 0;
  prompt_rows_.clear();
  std::vector<int32_t> prompt_token_rows;  // token index of each prompt row
  for (int32_t i = 0; i < real; ++i) {
    const StepSequence& seq = batch.seqs[size_t(i)];
    const int32_t n = int32_t(seq.new_token_ids.size());
    const int32_t seq_len = seq.num_computed_tokens + n;
    TERN_CHECK(n > 0, "sequence ", seq.seq_id, " scheduled with no tokens");
    TERN_CHECK(seq_len <= sizes_.max_model_len, "sequence ", seq.seq_id, " of ", seq_len, " tokens exceeds ",
               sizes_.max_model_len);
    TERN_CHECK(
        int64_t(seq.block_table.size()) * bs >= seq_len && int64_t(seq.block_table.size()) <= max_blocks_per_seq_,
        "sequence ", seq.seq_id, " has ", seq.block_table.size(), " blocks for ", seq_len, " tokens");
    TERN_CHECK(t + n <= sizes_.max_num_batched_tokens, "step exceeds ", sizes_.max_num_batched_tokens, " tokens");
    for (int32_t j = 0; j < n; ++j, ++t) {
      const int32_t id = seq.new_token_ids[size_t(j)];
      if (id < 0 || id >= vocab_size) throw error("token id ", id, " is outside the vocabulary of ", vocab_size);
      const int32_t p = seq.num_computed_tokens + j;
      ids[t] = id;
      pos[t] = p;
      slots[t] = seq.block_table[size_t(p / bs)] * bs + p % bs;
    }
    starts[i + 1] = int32_t(t);
    lens[i] = seq_len;
    std::copy(seq.block_table.begin(), seq.block_table.end(),
              h_block_tables_.ptr<int32_t>() + int64_t(i) * max_blocks_per_seq_);
    // A sequence with drafts samples after its last known token and after each draft.
    TERN_CHECK(seq.num_draft_tokens >= 0 && seq.num_draft_tokens < n && (seq.sample || seq.num_draft_tokens == 0),
               "sequence ", seq.seq_id, " has ", seq.num_draft_tokens, " drafts among ", n, " new tokens");
    if (seq.sample)
      for (int32_t r = seq.num_draft_tokens; r >= 0; --r) rows[sampled++] = int32_t(t) - 1 - r;
    if (seq.prompt_logprobs >= 0) {
      const int32_t last_scored = int32_t(seq.prompt_token_ids.size()) - 2;  // position before the last prompt token
      for (int32_t p = seq.num_computed_tokens; p < seq_len && p <= last_scored; ++p) {
        prompt_rows_.emplace_back(i, p);
        prompt_token_rows.push_back(int32_t(t) - seq_len + p);
      }
    }
    max_query_len = std::max(max_query_len, n);
    max_seq_len = std::max(max_seq_len, seq_len);
  }
  for (int32_t i = real; i < seqs; ++i, ++t) {
    ids[t] = 0;
    pos[t] = 0;
    slots[t] = -1;
    starts[i + 1] = int32_t(t) + 1;
    lens[i] = 1;
    std::fill_n(h_block_tables_.ptr<int32_t>() + int64_t(i) * max_blocks_per_seq_, max_blocks_per_seq_, 0);
  }
  if (seqs > real) {
    // A graph's kernels were launched for the largest shapes; pad the sampled rows too so
    // the top-k over them has the captured size.
    for (int32_t i = sampled; i < seqs; ++i) rows[i] = starts[i + 1] - 1;
    max_query_len = 1;
    max_seq_len = sizes_.max_model_len;
  }
  num_tokens_ = t;
  num_seqs_ = seqs;
  num_sampled_ = sampled;

  const int64_t copies = int64_t(batch.block_copies.size());
  TERN_CHECK(copies <= sizes_.max_num_seqs, "step with ", copies, " block copies, at most ", sizes_.max_num_seqs);
  int32_t* pairs = h_block_copies_.ptr<int32_t>();
  for (const BlockCopy& c : batch.block_copies) {
    *pairs++ = c.src;
    *pairs++ = c.dst;
  }
  block_copies_ = d_block_copies_.slice_rows(0, copies);

  TERN_CHECK(sampled <= sizes_.max_sampled_rows(), "step samples ", sampled, " rows, at most ",
             sizes_.max_sampled_rows());
  TERN_CHECK(int32_t(prompt_rows_.size()) <= sizes_.max_prompt_logprob_tokens, "step scores ", prompt_rows_.size(),
             " prompt positions, at most ", sizes_.max_prompt_logprob_tokens);
  num_top_k_rows_ = seqs > real ? seqs : sampled;
  std::copy(prompt_token_rows.begin(), prompt_token_rows.end(), rows + num_top_k_rows_);
  const int32_t logits_rows = num_top_k_rows_ + int32_t(prompt_rows_.size());
  inputs_.token_ids = d_token_ids_.slice_rows(0, t);
  inputs_.positions = d_positions_.slice_rows(0, t);
  inputs_.slot_mapping = d_slots_.slice_rows(0, t);
  inputs_.logits_indices = d_logits_rows_.slice_rows(0, logits_rows);
  inputs_.attention.num_seqs = seqs;
  inputs_.attention.max_query_len = max_query_len;
  inputs_.attention.max_seq_len = max_seq_len;
  inputs_.attention.query_start = d_query_start_.slice_rows(0, seqs + 1);
  inputs_.attention.seq_lens = d_seq_lens_.slice_rows(0, seqs);
  inputs_.attention.block_tables =
      d_block_tables_.slice_rows(0, int64_t(seqs) * max_blocks_per_seq_).reshape({seqs, max_blocks_per_seq_});
}

void StepInputs::upload() {
  const auto copy = [&](const Tensor& device, const Tensor& host) {
    if (device.numel() > 0) backend_.copy_from_host_async(device, host.data);
  };
  copy(inputs_.token_ids, h_token_ids_);
  copy(inputs_.positions, h_positions_);
  copy(inputs_.slot_mapping, h_slots_);
  copy(inputs_.logits_indices, h_logits_rows_);
  copy(inputs_.attention.query_start, h_query_start_);
  copy(inputs_.attention.seq_lens, h_seq_lens_);
  copy(inputs_.attention.block_tables, h_block_tables_);
  copy(block_copies_, h_block_copies_);
}

}  // namespace tern
