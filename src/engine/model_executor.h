// The boundary between the engine (scheduler, KV manager: integers only) and the code
// that runs the model and samples (src/runner/, wired to the engine by app/). The engine
// hands over one step as plain data and gets one sampled token per sequence that asked
// for one.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine_sizes.h"
#include "engine/sampling_params.h"
#include "kv/block_copy.h"

namespace tern {

// One position's scores: its token's log-softmax, and the most likely tokens there with
// theirs; for a prompt position also the token's rank (1: the most likely).
struct TokenLogprob {
  int32_t token_id = -1;
  float logprob = 0.0f;
  std::vector<std::pair<int32_t, float>> top_logprobs;
  int32_t rank = 0;
};

struct StepSequence {
  uint64_t seq_id = 0;
  // Tokens already in the KV cache; the new tokens take positions from here on.
  int32_t num_computed_tokens = 0;
  // The tokens to compute this step: a whole prompt, a chunk of it, or the last
  // sampled token when decoding (then speculative drafts, if any).
  std::span<const int32_t> new_token_ids;
  // Speculative decoding: the last num_draft_tokens of new_token_ids are drafts to verify
  // (with `sample`), or placeholders for an executor that drafts itself (a draft model).
  // See ModelExecutor::execute.
  int32_t num_draft_tokens = 0;
  // The sequence's KV blocks in order; covers num_computed_tokens + new tokens.
  std::span<const int32_t> block_table;
  // True when this step reaches the end of the sequence's known tokens, so a next
  // token must be sampled (false for a chunk in the middle of a prompt).
  bool sample = false;
  // For sampling: parameters, the prompt and the output so far (penalties), and how
  // many tokens were generated before (index of the random draw).
  const SamplingParams* params = nullptr;
  uint64_t seed = 0;
  std::span<const int32_t> prompt_token_ids;
  std::span<const int32_t> output_token_ids;
  // Tokens that must not be sampled this step (eos and stop ids before min_tokens).
  std::span<const int32_t> banned_token_ids;
  // Structured output: this sequence's row in StepBatch::token_masks, or -1 when any
  // token may be sampled. With drafts, row mask_row + r masks the logits after draft r.
  int32_t mask_row = -1;
  // Prompt logprobs (scoring): with prompt_logprobs = N >= 0, the executor writes
  // prompt_logprobs_out[p] for each new position p whose next token p + 1 is a prompt
  // token: that token's logprob and rank, and the N most likely tokens there.
  int32_t prompt_logprobs = -1;
  std::span<TokenLogprob> prompt_logprobs_out;
};

// The token bitmasks of a step's constrained sequences: row r allows token t when bit
// (t % 32) of words[r * words_per_row + t / 32] is set; tokens at or past
// words_per_row * 32 are never allowed.
struct TokenMaskRows {
  std::span<const uint32_t> words;
  int32_t words_per_row = 0;
};

// Where the executor gets a step's masks. They are computed on another thread while the
// forward runs (docs/engine.md, "Structured output"); wait() blocks until they are done.
class StepTokenMasks {
 public:
  virtual ~StepTokenMasks() = default;
  virtual TokenMaskRows wait() = 0;
};

struct StepBatch {
  std::vector<StepSequence> seqs;
  // Whole KV blocks to copy (every layer) before the forward writes anything: copy-on-write
  // of blocks the sequences shared. Distinct destinations, none also a source.
  std::span<const BlockCopy> block_copies;
  // Set when a sampled sequence has a mask_row: the executor applies the masks to the
  // logits before any sampling (after starting the forward, so the two overlap).
  StepTokenMasks* token_masks = nullptr;
};

struct SampledToken {
  uint64_t seq_id = 0;
  int32_t token_id = -1;
  float logprob = 0.0f;                                 // log-softmax of the chosen token
  std::vector<std::pair<int32_t, float>> top_logprobs;  // when params->logprobs > 0
  bool numerical_error = false;                         // the logits had NaN/Inf; token_id is then -1
  std::string error;  // with numerical_error: what the row held, for the log
};

// Memory the executor holds, for metrics and the ablation benchmark. Bytes; 0 where
// unknown.
struct ExecutorMemory {
  int64_t weights_bytes = 0;
  int64_t workspace_bytes = 0;  // activations of the largest step
  int64_t kv_block_bytes = 0;   // one KV cache block, all layers
  // Device memory in use once set up (KV pool and graphs included), as the device reports
  // it for all its processes; 0 on the CPU.
  int64_t device_used_bytes = 0;
  int64_t device_total_bytes = 0;
};

class ModelExecutor {
 public:
  virtual ~ModelExecutor() = default;
  // Runs the batch's block copies, then one forward over every sequence of the batch, and
  // samples for those with `sample` set, in batch order, from logits masked by their
  // token masks (a masked token is never sampled, nor listed in top_logprobs). Throws
  // tern::Error on a backend failure.
  // A sequence with drafts d1..dk gets consecutive tokens x0..xj: x0 sampled after its
  // known tokens, each x(i) after the known tokens and d1..di, as if those were its output
  // (penalties, and the draw index of its seed), until the first x(i) != d(i+1) or x(k).
  // The output is then exactly what k + 1 steps without drafts would sample (drafts are
  // proposals, not samples, so accepting d when x == d is the rejection rule of
  // speculative sampling for a proposal that is certain). A numerical error in a row ends
  // the sequence's tokens with that row's error token.
  virtual std::vector<SampledToken> execute(const StepBatch& batch) = 0;
  // The sizes it was built for, every one resolved (> 0; max_prompt_logprob_tokens 0 when
  // it cannot score prompt positions). The engine's scheduler runs with exactly these.
  virtual const EngineSizes& sizes() const = 0;
  virtual ExecutorMemory memory() const { return {}; }
};

}  // namespace tern
