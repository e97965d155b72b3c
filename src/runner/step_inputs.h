// The flat batch of one step, built on the host and copied to the device: token ids,
// positions, KV slots, query offsets, context lengths, block tables, the rows to sample
// and the KV block copies to run first. All buffers are allocated once at their largest size and live at fixed device
// addresses, so a CUDA graph captured over them replays with new contents.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "engine/engine_sizes.h"
#include "engine/model_executor.h"
#include "model/llama_model.h"

namespace tern {

class StepInputs {
 public:
  // Sized for the largest step `sizes` allows (resolved): max_num_batched_tokens tokens,
  // max_num_seqs sequences plus max_prompt_logprob_tokens scored rows, block tables of
  // max_model_len tokens.
  StepInputs(Backend& backend, const EngineSizes& sizes);

  // Fills the staging buffers from `batch`. With pad_to > batch size (decode steps only),
  // appends padding sequences of one token that write no KV and are not sampled, and
  // sets the attention hints to their maxima, so the step has the shape a graph was
  // captured with. Throws tern::Error for a token id outside [0, vocab_size), or for more
  // block copies than max_seqs (the scheduler makes at most one per sequence).
  void build(const StepBatch& batch, int32_t pad_to, int64_t vocab_size);
  // Enqueues the host-to-device copies of what build() filled.
  void upload();

  const ForwardInputs& forward_inputs() const { return inputs_; }
  // [num_block_copies(), 2] I32 (src, dst) on the device, for Backend::copy_blocks.
  const Tensor& block_copies() const { return block_copies_; }
  int32_t num_block_copies() const { return int32_t(block_copies_.rows()); }
  int32_t num_seqs() const { return num_seqs_; }        // including padding
  // Logits rows sampled: one per sequence with sample set, plus one per draft.
  int32_t num_sampled() const { return num_sampled_; }
  // Logits rows the top-k runs over: the sampled ones (all rows of a padded graph batch).
  int32_t num_top_k_rows() const { return num_top_k_rows_; }
  // Prompt logprobs: the logits rows after the top-k rows, in order, as (index of the
  // sequence in the batch, prompt position whose next token they score).
  const std::vector<std::pair<int32_t, int32_t>>& prompt_rows() const { return prompt_rows_; }
  int64_t num_tokens() const { return num_tokens_; }

 private:
  Backend& backend_;
  EngineSizes sizes_;
  int32_t max_blocks_per_seq_ = 0;
  // Host staging and device buffers, one each per input, at their largest size.
  Tensor h_token_ids_, h_positions_, h_slots_, h_query_start_, h_seq_lens_, h_block_tables_, h_logits_rows_,
      h_block_copies_;
  Tensor d_token_ids_, d_positions_, d_slots_, d_query_start_, d_seq_lens_, d_block_tables_, d_logits_rows_,
      d_block_copies_;
  ForwardInputs inputs_;
  Tensor block_copies_;  // the rows of d_block_copies_ this step uses
  int64_t num_tokens_ = 0;
  int32_t num_seqs_ = 0;
  int32_t num_sampled_ = 0;
  int32_t num_top_k_rows_ = 0;
  std::vector<std::pair<int32_t, int32_t>> prompt_rows_;
};

}  // namespace tern
