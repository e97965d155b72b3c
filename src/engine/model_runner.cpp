#include "engine/model_runner.h"

#include <algorithm>

#include "base/error.h"

namespace tern {

ModelRunner::ModelRunner(std::unique_ptr<LlamaModel> model, ModelRunnerConfig config, std::unique_ptr<Backend> backend)
    : backend_(std::move(backend)), model_(std::move(model)), config_(config) {
  const ModelConfig& mc = model_->config();
  if (config_.max_model_len <= 0) config_.max_model_len = int32_t(mc.max_position_embeddings);
  TERN_CHECK(config_.block_size > 0 && config_.num_kv_blocks > 0, "runner needs a KV pool");
  max_blocks_per_seq_ = (config_.max_model_len + config_.block_size - 1) / config_.block_size;
  Backend& be = model_->backend();
  kv_cache_ = model_->make_kv_cache(config_.num_kv_blocks, config_.block_size);
  workspace_ = model_->make_workspace(config_.max_num_batched_tokens, config_.max_num_seqs);
  const int64_t t = config_.max_num_batched_tokens, s = config_.max_num_seqs;
  token_ids_ = be.alloc(DType::kI32, {t});
  positions_ = be.alloc(DType::kI32, {t});
  slot_mapping_ = be.alloc(DType::kI32, {t});
  query_start_ = be.alloc(DType::kI32, {s + 1});
  seq_lens_ = be.alloc(DType::kI32, {s});
  block_tables_ = be.alloc(DType::kI32, {s, max_blocks_per_seq_});
  logits_indices_ = be.alloc(DType::kI32, {s});
  h_block_tables_.resize(size_t(s * max_blocks_per_seq_));
  host_logits_.reserve(size_t(s * mc.vocab_size));
}

std::vector<SampledToken> ModelRunner::execute(const StepBatch& batch) {
  const int32_t num_seqs = int32_t(batch.seqs.size());
  TERN_CHECK(num_seqs > 0 && num_seqs <= config_.max_num_seqs, "step of ", num_seqs, " sequences");
  h_token_ids_.clear();
  h_positions_.clear();
  h_slot_mapping_.clear();
  h_query_start_.assign(1, 0);
  h_seq_lens_.clear();
  h_logits_indices_.clear();
  int32_t max_query_len = 0, max_seq_len = 0;
  const int32_t bs = config_.block_size;
  for (int32_t i = 0; i < num_seqs; ++i) {
    const StepSequence& seq = batch.seqs[size_t(i)];
    const int32_t n = int32_t(seq.new_token_ids.size());
    const int32_t seq_len = seq.num_computed_tokens + n;
    TERN_CHECK(n > 0, "sequence ", seq.seq_id, " scheduled with no tokens");
    TERN_CHECK(seq_len <= config_.max_model_len, "sequence ", seq.seq_id, " of ", seq_len, " tokens exceeds ",
               config_.max_model_len);
    TERN_CHECK(int64_t(seq.block_table.size()) * bs >= seq_len, "sequence ", seq.seq_id, " has ",
               seq.block_table.size(), " blocks for ", seq_len, " tokens");
    for (int32_t j = 0; j < n; ++j) {
      const int32_t pos = seq.num_computed_tokens + j;
      h_token_ids_.push_back(seq.new_token_ids[size_t(j)]);
      h_positions_.push_back(pos);
      h_slot_mapping_.push_back(seq.block_table[size_t(pos / bs)] * bs + pos % bs);
    }
    h_query_start_.push_back(int32_t(h_token_ids_.size()));
    h_seq_lens_.push_back(seq_len);
    std::copy(seq.block_table.begin(), seq.block_table.end(),
              h_block_tables_.begin() + int64_t(i) * max_blocks_per_seq_);
    if (seq.sample) h_logits_indices_.push_back(int32_t(h_token_ids_.size()) - 1);
    max_query_len = std::max(max_query_len, n);
    max_seq_len = std::max(max_seq_len, seq_len);
  }
  const int64_t t = int64_t(h_token_ids_.size());
  TERN_CHECK(t <= config_.max_num_batched_tokens, "step of ", t, " tokens exceeds ", config_.max_num_batched_tokens);
  for (int32_t id : h_token_ids_)
    if (id < 0 || id >= model_->config().vocab_size) throw error("token id ", id, " is outside the vocabulary");

  Backend& be = model_->backend();
  ForwardInputs in;
  in.token_ids = token_ids_.slice_rows(0, t);
  in.positions = positions_.slice_rows(0, t);
  in.slot_mapping = slot_mapping_.slice_rows(0, t);
  in.attention.num_seqs = num_seqs;
  in.attention.max_query_len = max_query_len;
  in.attention.max_seq_len = max_seq_len;
  in.attention.query_start = query_start_.slice_rows(0, num_seqs + 1);
  in.attention.seq_lens = seq_lens_.slice_rows(0, num_seqs);
  in.attention.block_tables = block_tables_.slice_rows(0, num_seqs);
  in.logits_indices = logits_indices_.slice_rows(0, int64_t(h_logits_indices_.size()));
  be.copy_from_host(in.token_ids, h_token_ids_.data());
  be.copy_from_host(in.positions, h_positions_.data());
  be.copy_from_host(in.slot_mapping, h_slot_mapping_.data());
  be.copy_from_host(in.attention.query_start, h_query_start_.data());
  be.copy_from_host(in.attention.seq_lens, h_seq_lens_.data());
  be.copy_from_host(in.attention.block_tables, h_block_tables_.data());
  if (!h_logits_indices_.empty()) be.copy_from_host(in.logits_indices, h_logits_indices_.data());

  Tensor logits = model_->forward(in, kv_cache_, workspace_);
  std::vector<SampledToken> out;
  if (h_logits_indices_.empty()) return out;
  const int64_t vocab = model_->config().vocab_size;
  host_logits_.resize(size_t(logits.numel()));
  be.copy_to_host(logits, host_logits_.data());
  size_t row = 0;
  for (const StepSequence& seq : batch.seqs) {
    if (!seq.sample) continue;
    std::span<const float> l(host_logits_.data() + row * vocab, size_t(vocab));
    out.push_back(sample_token(l, seq, scratch_));
    ++row;
  }
  return out;
}

}  // namespace tern
