// The sizes the scheduler and the model runner must agree on, defined and defaulted here
// only. The app fills one EngineSizes from its flags, the runner resolves what is left
// at 0 (ModelRunner::sizes()), and the engine takes the executor's sizes as they are
// (ModelExecutor::sizes()): with one copy there is nothing to cross-check.
#pragma once

#include <cstdint>

namespace tern {

struct EngineSizes {
  int32_t block_size = 16;                // tokens per KV cache block
  int32_t num_kv_blocks = 0;              // KV cache blocks; 0: what memory holds (runner/kv_memory_plan.h)
  int32_t max_model_len = 0;              // longest sequence, prompt + output; 0: the model's max_position_embeddings
  int32_t max_num_batched_tokens = 2048;  // tokens computed per step, all sequences together
  int32_t max_num_seqs = 256;             // sequences in the running batch (n > 1 counts n)
  // Prompt positions scored per step (prompt logprobs): logits rows kept beyond the
  // sampled ones; 0: the executor cannot score prompts.
  int32_t max_prompt_logprob_tokens = 64;
  // Speculative draft tokens verified per step, all sequences together: logits rows kept
  // beyond the sampled ones; 0: no speculation.
  int32_t max_draft_tokens = 0;

  // Logits rows a step samples (a sequence's, and one per draft) and all the rows its
  // forward keeps (prompt-logprob rows too).
  int32_t max_sampled_rows() const { return max_num_seqs + max_draft_tokens; }
  int32_t max_logits_rows() const { return max_sampled_rows() + max_prompt_logprob_tokens; }

  // The defaults on the CPU backend, where a step of 2048 tokens would stall every stream
  // for seconds: 512 tokens and 32 sequences a step.
  static EngineSizes cpu_defaults() { return EngineSizes{.max_num_batched_tokens = 512, .max_num_seqs = 32}; }
};

}  // namespace tern
