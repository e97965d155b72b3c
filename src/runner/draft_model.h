// Speculative decoding with a draft model (--speculative-method draft): a small model with
// the target's tokenizer proposes each drafting sequence's K drafts, greedily, one token
// per forward; the target then verifies them (ModelRunner). The draft keeps its own KV
// cache in the target's block numbering: a sequence's block table indexes both pools, so
// the scheduler's allocation, prefix cache and copy-on-write cover the draft too.
//
// In a step where some sequence drafts, the draft first computes, for every sequence of
// the batch, what the target has and it has not (its "catch-up": the step's new tokens, a
// token the target accepted without the draft having computed it, and whatever the target
// computed while the draft was idle), drafting sequences first, within its step budget; a
// drafting sequence whose catch-up reaches its last token gets draft 1 from that row, then
// K - 1 one-token forwards give drafts 2..K. In a step where sequences decode and none
// drafts (a batch above the disable-by-batch-size limit) the draft does not run at all.
// Drafts are the draft model's argmax: a proposal with probability 1, which the runner's
// verification accepts exactly when the target samples it.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/engine_sizes.h"
#include "engine/model_executor.h"
#include "model/llama_model.h"
#include "runner/step_inputs.h"

namespace tern {

// The draft's sizes for a target's: room for the target's step, a token per sequence, and
// as much again to catch up on what the target computed while the draft was idle; no
// drafts or scored prompt rows of its own.
EngineSizes draft_model_sizes(const EngineSizes& target);

class DraftModel {
 public:
  // `target_sizes`: the runner's resolved sizes (its block pool is shared by number).
  // Throws tern::Error when the draft's vocabulary is larger than the target's.
  DraftModel(std::unique_ptr<LlamaModel> model, const EngineSizes& target_sizes, int64_t target_vocab_size);

  const LlamaModel& model() const { return *model_; }

  // The batch with each drafting sequence's placeholder drafts replaced by the draft
  // model's (the spans point into this object until the next call). Runs the step's
  // block copies on the draft's pool first.
  const StepBatch& propose(const StepBatch& batch);
  // After the target verified: `tokens` as ModelExecutor::execute returns them for
  // `batch` (the one propose() returned). Drops what the draft computed past the
  // accepted drafts.
  void after_verify(const StepBatch& batch, const std::vector<SampledToken>& tokens);

  size_t kv_block_bytes(int64_t block_size) const { return model_->kv_block_bytes(block_size); }

 private:
  // Runs the draft forward over `steps` and writes the argmax of each sampled row into
  // `argmax` (in batch order).
  void forward_argmax(const StepBatch& steps, std::vector<int32_t>& argmax);

  std::unique_ptr<LlamaModel> model_;
  EngineSizes sizes_;  // the draft's: catch-up tokens on top of the target's step
  std::vector<KvCacheLayer> kv_cache_;
  Workspace workspace_;
  std::unique_ptr<StepInputs> inputs_;
  Tensor top_ids_, top_values_, top_lse_;  // device [max_num_seqs, 1]
  std::vector<int32_t> host_ids_;
  // Drops the progress of sequences absent from many steps (finished ones).
  void forget_unseen();

  // Per sequence (by seq_id): tokens whose draft KV is computed, and the last step it was
  // in. A sequence first seen starts where the target stands: a prefix-cache hit's blocks
  // hold the draft's KV too when the draft computed them (else drafts are poorer, never
  // wrong).
  struct Progress {
    int32_t computed = 0;
    uint64_t seen = 0;
  };
  std::unordered_map<uint64_t, Progress> progress_;
  uint64_t step_ = 0;
  StepBatch drafted_;
  std::vector<std::vector<int32_t>> token_buffers_;  // catch-up tokens, then each step's drafts
};

}  // namespace tern
