// ModelRunner: the ModelExecutor over a LlamaModel. Each step it turns the StepBatch into
// the flat batch (token ids, positions, slot mapping, block tables), runs one forward and
// samples. Buffers are sized once for the largest step; nothing is allocated per step.
#pragma once

#include <memory>
#include <vector>

#include "engine/model_executor.h"
#include "engine/sampler.h"
#include "model/llama_model.h"

namespace tern {

struct ModelRunnerConfig {
  int32_t block_size = 16;
  int32_t num_kv_blocks = 0;
  int32_t max_num_batched_tokens = 2048;  // largest step in tokens
  int32_t max_num_seqs = 256;             // largest step in sequences
  int32_t max_model_len = 0;              // 0: the model's max_position_embeddings
};

class ModelRunner final : public ModelExecutor {
 public:
  // `backend`, when given, is the model's backend, owned by the runner so it outlives
  // the model.
  ModelRunner(std::unique_ptr<LlamaModel> model, ModelRunnerConfig config, std::unique_ptr<Backend> backend = nullptr);

  std::vector<SampledToken> execute(const StepBatch& batch) override;
  int32_t block_size() const override { return config_.block_size; }
  int32_t num_kv_blocks() const override { return config_.num_kv_blocks; }
  int32_t max_model_len() const override { return config_.max_model_len; }

  const LlamaModel& model() const { return *model_; }
  // Logits of the last execute(), [sampled sequences, vocab] (tests compare them).
  const std::vector<float>& last_logits() const { return host_logits_; }

 private:
  std::unique_ptr<Backend> backend_;  // declared first: destroyed after everything on it
  std::unique_ptr<LlamaModel> model_;
  ModelRunnerConfig config_;
  int32_t max_blocks_per_seq_ = 0;
  std::vector<KvCacheLayer> kv_cache_;
  Workspace workspace_;
  // Device copies of the step inputs, [max] each; each step uses a prefix.
  Tensor token_ids_, positions_, slot_mapping_, query_start_, seq_lens_, block_tables_, logits_indices_;
  // Host staging for the same.
  std::vector<int32_t> h_token_ids_, h_positions_, h_slot_mapping_, h_query_start_, h_seq_lens_, h_block_tables_,
      h_logits_indices_;
  std::vector<float> host_logits_;
  SamplerScratch scratch_;
};

}  // namespace tern
