// What one scheduler step decides, and what it learns back: plain data for the engine and
// the model side. Pointers refer to sequences the engine owns; spans point into the KV
// manager and stay valid until the next schedule() or update_from_output().
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "engine/model_executor.h"
#include "engine/request.h"
#include "kv/block_copy.h"

namespace tern {

struct ScheduledSequence {
  Sequence* seq = nullptr;
  int32_t num_computed_tokens = 0;            // before this step; the new tokens start there
  int32_t num_new_tokens = 0;                 // >= 1, drafts included
  int32_t num_draft_tokens = 0;               // speculative drafts, the last of the new tokens
  bool sample = false;                        // the step reaches the end of the sequence's tokens
  std::span<const int32_t> block_table;       // covers num_computed_tokens + num_new_tokens
  std::span<const int32_t> banned_token_ids;  // ids its sample may not take (stop ids before min_tokens)

  std::span<const int32_t> new_token_ids() const {
    if (num_draft_tokens > 0) return seq->verify_token_ids;
    return std::span<const int32_t>(seq->token_ids).subspan(num_computed_tokens, num_new_tokens);
  }
};

struct SchedulerOutput {
  std::vector<ScheduledSequence> seqs;      // batch order: running sequences, then admitted ones
  int32_t num_batched_tokens = 0;           // sum of num_new_tokens, <= max_num_batched_tokens
  std::vector<uint64_t> preempted_seq_ids;  // blocks freed this step; back to waiting
  std::vector<uint64_t> finished_seq_ids;   // finished since the previous schedule()
  // Copy-on-write copies to run before the step's forward (at most one per scheduled
  // sequence); see KvCacheManager::take_block_copies.
  std::vector<BlockCopy> block_copies;
};

// One sequence's result of a step, from update_from_output().
struct SequenceUpdate {
  Sequence* seq = nullptr;
  // The tokens that joined its output, in order: one, several when speculative drafts
  // were accepted, none when the sequence ended without a new token.
  std::span<const SampledToken> sampled;
  std::optional<FinishReason> finish;  // set when this update ended the sequence (it is finished)
};

}  // namespace tern
