// The scheduler: a CPU state machine over sequences (habit 4). One rule drives it: every
// sequence has num_computed_tokens and num_tokens, and each step hands out the difference
// within the token budget; prefill, chunked prefill, prefix-cache hits, recompute after
// preemption and decode all follow from it.
//
// A step, schedule():
//   1. running sequences with one token left (decodes), in admission order, so inter-token
//      latency stays flat while prompts arrive;
//   2. running sequences with more left (chunked prefills), up to the remaining budget;
//   3. waiting sequences, most important first, if nothing was preempted this step: each
//      takes its cached prefix and blocks for its first chunk, or admission stops.
// When blocks run out for a running sequence, the least important running sequence (highest
// priority value, latest arrival) is preempted: its blocks are freed and it goes back to
// waiting with num_computed_tokens = 0, to recompute its prompt and output later.
//
// n > 1: the leader computes the prompt; once it has computed all prompt tokens but the
// last, the other n - 1 sequences fork from it, sharing every block that holds those
// tokens (the last one possibly partial), and each computes only the last prompt token
// itself (its logits are needed to sample) with seed + index. A block is never written
// while shared: the first write into it copies it (copy-on-write, KvCacheManager), and the
// step's copies travel in SchedulerOutput::block_copies.
//
// Not thread-safe: the engine thread owns it. check_admissible() alone may be called from
// any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "engine/engine_config.h"
#include "engine/engine_sizes.h"
#include "engine/engine_stats.h"
#include "engine/request.h"
#include "engine/scheduler_output.h"
#include "engine/step_cost_model.h"
#include "engine/waiting_queue.h"
#include "kv/kv_cache_manager.h"

namespace tern {

class Scheduler {
 public:
  // `sizes` with every size resolved (> 0; max_prompt_logprob_tokens may be 0). Throws
  // tern::Error naming a bad field.
  Scheduler(const EngineSizes& sizes, const EngineConfig& config);

  const EngineSizes& sizes() const { return sizes_; }
  const EngineConfig& config() const { return config_; }

  // Throws RequestRejected for a request that could never run: invalid parameters, prompt
  // + max_tokens over max_model_len, or more KV blocks than the whole pool.
  void check_admissible(int32_t num_prompt_tokens, const SamplingParams& params) const;
  // Queues a request from Request::create() that passed check_admissible(). The caller
  // keeps it alive until it is finished().
  void add_request(Request& request);
  // Ends every unfinished sequence of the request with kAbort; blocks are freed at once.
  void abort_request(Request& request);
  // Ends every unfinished sequence with kError and the message; blocks are freed unregistered.
  void fail_request(Request& request, const std::string& message);

  // What the engine sees in a sampled token that the scheduler cannot: whether it completed
  // a stop string in the sequence's text. Called once for each sampled token that becomes
  // output (not for a stop id that ends the sequence), after it joined the sequence's
  // tokens; true ends the sequence with kStop.
  using StopStringCheck = std::function<bool(const Sequence&, const SampledToken&)>;

  const SchedulerOutput& schedule();
  // Applies the step and finishes what it ended; the one place a sequence's finish state
  // is written besides abort_request() and fail_request(). Computed tokens, sampled tokens
  // (one per sequence with `sample`, in batch order), stop conditions (eos, stop_token_ids,
  // a stop string found by `stop_string`, max_tokens, max_model_len; none before
  // min_tokens), structured output (the token goes to the sequence's grammar matcher; a
  // grammar complete with nothing more to add stops the sequence), forks, prefix-cache
  // registration. A numerical error fails the whole request. The updates are valid until
  // the next call.
  const std::vector<SequenceUpdate>& update_from_output(const SchedulerOutput& output,
                                                        std::span<const SampledToken> sampled,
                                                        const StopStringCheck& stop_string = {});

  // Ids that may not be sampled next for `seq` (stop ids before min_tokens); schedule()
  // hands them out in ScheduledSequence::banned_token_ids.
  std::span<const int32_t> banned_token_ids(const Sequence& seq) const;

  bool has_unfinished() const { return !running_.empty() || !waiting_.empty(); }
  int32_t num_running_seqs() const { return static_cast<int32_t>(running_.size()); }
  int32_t num_waiting_seqs() const { return static_cast<int32_t>(waiting_.size()); }
  const std::vector<Sequence*>& running() const { return running_; }
  const WaitingQueue& waiting() const { return waiting_; }
  const KvCacheManager& kv() const { return kv_; }
  int64_t num_preemptions() const { return num_preemptions_; }
  // Prompt chunks that config.target_itl_ms made shorter than they could have been.
  int64_t num_prefill_chunks_cut() const { return num_prefill_chunks_cut_; }
  int64_t num_numerical_errors() const { return num_numerical_errors_; }
  const SpeculationStats& speculation() const { return speculation_; }

  // How long the step of the last schedule() took, from schedule() to its updates; it
  // trains the step cost model behind config.target_itl_ms.
  void record_step_time(double milliseconds);
  const StepCostModel& step_cost_model() const { return step_cost_; }
  // The smallest prompt chunk a step with decodes still gives its first prefill.
  static constexpr int32_t kMinPrefillChunk = 16;

 private:
  void schedule_running(bool decodes);
  void schedule_waiting();
  bool allocate_or_preempt(Sequence& seq, int32_t num_new_tokens);
  // Speculative decoding: fills seq.verify_token_ids with its last token and its drafts
  // for this step, within the step's budgets, max_tokens and max_model_len; returns how
  // many drafts (0: it decodes one token).
  int32_t propose_drafts(Sequence& seq);
  // Drafts worth proposing for a sequence whose drafts were accepted at `acceptance`
  // (1..num_tokens).
  int32_t drafts_for(float acceptance) const;
  void add_to_batch(Sequence& seq, int32_t num_new_tokens, int32_t num_draft_tokens = 0);
  // Tokens `seq` may compute this step as far as prompt logprobs go: the step's remaining
  // scored-position budget while it computes a prompt it scores, else no limit.
  int32_t prompt_logprob_cap(const Sequence& seq) const;
  // Stall-free batching: the prefill tokens `seq` may add to this step for it to stay
  // within config.target_itl_ms while the step carries decodes (no limit otherwise, or
  // while the cost model is untrained). The step's first prefill chunk gets at least
  // kMinPrefillChunk tokens, so prompts keep moving when decodes alone fill the target.
  int32_t prefill_cap(const Sequence& seq, int32_t computed) const;
  StepFeatures scheduled_features() const;
  Sequence* pick_victim() const;
  void preempt(Sequence& victim);
  void remove_from_running(Sequence& seq);
  // Tokens the table must cover for the sequence to compute up to `end` (the whole
  // reservation in KvLayout::kContiguous).
  int32_t tokens_to_cover(const Sequence& seq, int32_t end) const;
  // Tokens of the leader's KV its forks share (and start from).
  int32_t fork_point(const Sequence& leader) const;
  void maybe_fork(Sequence& leader);
  void finish(Sequence& seq, FinishReason reason);
  // The step's tokens for one running sequence (one, or its accepted drafts and one more)
  // join its output in order, each checked for stop conditions and by its grammar; then
  // rejected drafts' blocks are released and the acceptance is recorded.
  void append_tokens(const ScheduledSequence& s, std::span<const SampledToken> tokens,
                     const StopStringCheck& stop_string);
  // Ends every sequence of the request with kError (an update each) for a NaN/Inf row.
  void fail_numerical(Sequence& seq, const SampledToken& token);
  void fail_request_with_updates(Request& request, const std::string& message);
  std::optional<FinishReason> check_stop(const Sequence& seq) const;
  int32_t num_running_slots() const { return static_cast<int32_t>(running_.size()) + num_reserved_slots_; }

  EngineSizes sizes_;
  EngineConfig config_;
  KvCacheManager kv_;
  std::vector<Sequence*> running_;  // admission order
  WaitingQueue waiting_;
  // Slots the unforked siblings of running leaders will take (max_num_seqs counts them).
  int32_t num_reserved_slots_ = 0;
  uint64_t step_ = 0;
  uint64_t next_seq_id_ = 1;
  uint64_t next_arrival_ = 0;
  int32_t budget_ = 0;
  int32_t prompt_logprob_budget_ = 0;  // scored prompt positions left this step
  int32_t draft_budget_ = 0;           // speculative drafts left this step
  SchedulerOutput output_;
  std::vector<uint64_t> finished_since_schedule_;
  std::vector<SequenceUpdate> updates_;
  int64_t num_preemptions_ = 0;
  int64_t num_prefill_chunks_cut_ = 0;
  int64_t num_numerical_errors_ = 0;
  SpeculationStats speculation_;
  StepCostModel step_cost_;
  bool step_has_decodes_ = false;  // this step carries decodes (set after they are scheduled)
  int32_t step_prefills_ = 0;      // prefill chunks scheduled so far this step
};

}  // namespace tern
