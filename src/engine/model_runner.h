// ModelRunner: the ModelExecutor over a LlamaModel. Each step: build the flat batch
// (step_inputs.h), run the step's KV block copies (copy-on-write), run the forward
// (eagerly, or by replaying a CUDA graph captured for decode batches of that size), then
// sample (sampler.h) from the backend's top-k
// candidates, or from full logit rows when a request's sampling needs the whole
// vocabulary. Buffers are sized once for the largest step; nothing is allocated per step.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "engine/model_executor.h"
#include "engine/sampler.h"
#include "engine/step_inputs.h"
#include "model/llama_model.h"

namespace tern {

struct ModelRunnerConfig {
  int32_t block_size = 16;
  int32_t num_kv_blocks = 0;
  int32_t max_num_batched_tokens = 2048;  // largest step in tokens
  int32_t max_num_seqs = 256;             // largest step in sequences
  int32_t max_model_len = 0;              // 0: the model's max_position_embeddings
  bool enforce_eager = false;             // never capture graphs
};

class ModelRunner final : public ModelExecutor {
 public:
  // `backend`, when given, is the model's backend, owned by the runner so it outlives
  // the model. Captures the decode graphs when the backend supports them.
  ModelRunner(std::unique_ptr<LlamaModel> model, ModelRunnerConfig config, std::unique_ptr<Backend> backend = nullptr);

  std::vector<SampledToken> execute(const StepBatch& batch) override;
  int32_t block_size() const override { return config_.block_size; }
  int32_t num_kv_blocks() const override { return config_.num_kv_blocks; }
  int32_t max_model_len() const override { return config_.max_model_len; }
  ExecutorMemory memory() const override { return memory_; }

  const LlamaModel& model() const { return *model_; }
  // Decode batch sizes with a captured graph (empty when eager).
  std::vector<int32_t> graph_batch_sizes() const;

  // Candidates per row copied to the host for sampling.
  static constexpr int32_t kTopCandidates = 64;

 private:
  // Runs the model and the top-k over the sampled rows (both enqueued, not waited for).
  void forward_and_top_k();
  void capture_graphs();
  // The smallest captured batch size holding `num_seqs` decode sequences, or 0.
  int32_t graph_size_for(const StepBatch& batch) const;
  std::vector<SampledToken> sample(const StepBatch& batch, bool from_top);

  std::unique_ptr<Backend> backend_;  // declared first: destroyed after everything on it
  std::unique_ptr<LlamaModel> model_;
  ModelRunnerConfig config_;
  int32_t top_k_ = 0;
  std::vector<KvCacheLayer> kv_cache_;
  Workspace workspace_;
  StepInputs inputs_;
  Tensor top_ids_, top_values_, top_lse_;        // device [max_seqs, k], [max_seqs, k], [max_seqs]
  Tensor h_top_ids_, h_top_values_, h_top_lse_;  // staging copies
  std::vector<float> host_logits_;
  std::map<int32_t, std::unique_ptr<CapturedGraph>> graphs_;  // by padded batch size
  SamplerScratch scratch_;
  ExecutorMemory memory_;
};

}  // namespace tern
