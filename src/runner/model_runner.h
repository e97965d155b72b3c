// ModelRunner: the ModelExecutor over a LlamaModel, whole or split over the ranks of a
// tensor-parallel group. Each step: build the flat batch (step_inputs.h), run the step's KV
// block copies (copy-on-write), run the forward
// (eagerly, or by replaying a CUDA graph captured for decode batches of that size), then
// sample (sampler.h) from the backend's top-k candidates, or from full logit rows when a
// request's sampling needs the whole vocabulary. Before the top-k, the logits get the
// step's token masks (structured output: made on another thread meanwhile, waited for
// once the forward is enqueued) and its sequences' penalties, logit_bias and banned tokens
// (logit_adjustments.h), both applied where the logits are. Buffers are sized once for the
// largest step; nothing is allocated per step.
//
// Tensor parallelism: one engine, one scheduler, one runner; each rank has its own model
// shard, KV cache slice, inputs and graphs, and runs every step on its own thread in
// lockstep with the others (base/rank_threads.h). Rank 0 runs on the engine thread and
// samples from the logits the forward gathered. With one rank there is no other thread
// and no communicator.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "backend/communicator.h"
#include "base/rank_threads.h"
#include "engine/engine_sizes.h"
#include "engine/model_executor.h"
#include "model/llama_model.h"
#include "runner/sampler.h"
#include "runner/draft_model.h"
#include "runner/step_inputs.h"

namespace tern {

struct ModelRunnerConfig {
  // num_kv_blocks must be set (runner/kv_memory_plan.h plans it); max_model_len 0 is the
  // model's max_position_embeddings. Buffers are sized for the largest step they allow.
  EngineSizes sizes;
  bool enforce_eager = false;  // never capture graphs
};

// `sizes` with max_model_len 0 replaced by the model's max_position_embeddings.
EngineSizes resolve_model_len(EngineSizes sizes, const LlamaModel& model);

// One rank's model and what it runs on. Members are destroyed model first, backend last.
struct ModelRank {
  std::unique_ptr<Backend> backend;    // the model's backend; null when the caller keeps it alive
  std::unique_ptr<Communicator> comm;  // null for a single rank
  std::unique_ptr<LlamaModel> model;
};

class ModelRunner final : public ModelExecutor {
 public:
  // A whole model. `backend`, when given, is the model's backend, owned by the runner so
  // it outlives the model. Captures the decode graphs when the backend supports them.
  ModelRunner(std::unique_ptr<LlamaModel> model, ModelRunnerConfig config, std::unique_ptr<Backend> backend = nullptr);
  // The ranks of a tensor-parallel group: ranks[r].model holds shard r, and `threads` has
  // one thread per rank (the threads the shards were loaded on may be reused). Each rank
  // gets num_kv_blocks blocks of its KV heads.
  ModelRunner(std::vector<ModelRank> ranks, ModelRunnerConfig config, std::unique_ptr<RankThreads> threads);

  // Speculative decoding with a draft model (runner/draft_model.h): its drafts replace
  // the scheduler's placeholders. One rank only; the model is on rank 0's backend.
  void set_draft_model(std::unique_ptr<LlamaModel> draft);

  std::vector<SampledToken> execute(const StepBatch& batch) override;
  const EngineSizes& sizes() const override { return config_.sizes; }
  ExecutorMemory memory() const override { return memory_; }

  // Rank 0's model (the config is the whole model's).
  const LlamaModel& model() const { return *ranks_[0].owned.model; }
  int tensor_parallel_size() const { return int(ranks_.size()); }
  // Decode batch sizes with a captured graph (empty when eager).
  std::vector<int32_t> graph_batch_sizes() const;

  // Candidates per row copied to the host for sampling.
  static constexpr int32_t kTopCandidates = 64;

 private:
  // What one rank keeps between steps; declared so that everything on the model's backend
  // is destroyed before `owned`.
  struct Rank {
    ModelRank owned;
    std::vector<KvCacheLayer> kv_cache;
    Workspace workspace;
    std::unique_ptr<StepInputs> inputs;
    std::map<int32_t, std::unique_ptr<CapturedGraph>> graphs;  // by padded batch size
  };

  // Runs job(rank) on every rank's thread at once; if one fails, the communicators are
  // aborted so that no rank waits forever for it, and the error is rethrown.
  void on_ranks(const std::function<void(Rank&, int)>& job);
  // Runs the model and, on rank 0, the top-k over the sampled rows (enqueued, not waited for).
  void forward_and_top_k(Rank& rank, int index);
  // Warms the rank up at the largest decode step, then captures its decode graphs (unless
  // enforce_eager or the backend cannot).
  void capture_graphs(Rank& rank, int index);
  // The smallest captured batch size holding `num_seqs` decode sequences, or 0.
  int32_t graph_size_for(const StepBatch& batch) const;
  // Fills sampled_rows_: the batch's sampled sequences, a sequence with k drafts as k + 1
  // rows, row r seeing drafts 1..r as output (penalties, the seed's draw index).
  void expand_sampled_rows(const StepBatch& batch);
  // One token per sampled row; rows_adjusted: the host rows carry the logit adjustments.
  std::vector<SampledToken> sample(bool from_top, bool rows_adjusted);
  // The executor's tokens from the rows' tokens: a drafting sequence's rows up to the first
  // whose token differs from the draft after it (ModelExecutor::execute).
  static std::vector<SampledToken> verify_drafts(const StepBatch& batch, std::vector<SampledToken> rows);
  // Rank 0, after the forward: the step's token masks, then its logit adjustments
  // (penalties, logit_bias, bans) onto the sampled rows' logits, then the top-k again over
  // the changed rows (a replayed graph already ran it on the unchanged). False when the
  // adjustments do not fit their buffers: the rows stay unadjusted, for the host to adjust.
  bool prepare_sampled_rows(Rank& rank, const StepBatch& batch, bool from_top);
  // The token masks onto `logits` (the sampled rows); false when no row has one.
  bool apply_token_masks(Rank& rank, const StepBatch& batch, const Tensor& logits);
  // Rank 0, after the forward: the prompt positions' logprobs from their logits rows, into
  // each sequence's prompt_logprobs_out.
  void score_prompt_rows(Rank& rank, const StepBatch& batch);

  std::vector<Rank> ranks_;  // declared first: destroyed after the buffers below
  std::unique_ptr<DraftModel> draft_;
  std::unique_ptr<RankThreads> threads_;
  ModelRunnerConfig config_;
  int32_t top_k_ = 0;
  // Rank 0's sampling buffers.
  Tensor top_ids_, top_values_, top_lse_;        // device [rows, k], [rows, k], [rows]: max_sampled_rows()
  Tensor h_top_ids_, h_top_values_, h_top_lse_;  // staging copies
  // Structured output: which sampled row each mask is for, and the masks.
  Tensor mask_rows_, masks_;      // device [rows, 1] I32, [rows, mask_words] I32
  Tensor h_mask_rows_, h_masks_;  // staging copies
  int32_t mask_words_ = 0;        // ceil(vocab / 32)
  // Logit adjustments: (sampled row, token) and (bias, repetition, subtract) of each.
  Tensor adjust_targets_, adjust_amounts_;      // device [max_adjustments, 2] I32, [max_adjustments, 3] F32
  Tensor h_adjust_targets_, h_adjust_amounts_;  // staging copies
  int64_t max_adjustments_ = 0;
  LogitAdjuster adjuster_;
  std::vector<LogitAdjustment> adjustments_;
  // The step's sampled rows (expand_sampled_rows) and the outputs their spans point into.
  std::vector<StepSequence> sampled_rows_;
  std::vector<int32_t> draft_outputs_;
  std::vector<float> host_logits_;
  std::vector<float> prompt_logits_;  // the step's prompt-logprob rows
  SamplerScratch scratch_;
  ExecutorMemory memory_;
};

}  // namespace tern
