// Request and Sequence: the state the scheduler works on. A request has n sequences (its
// completions); the scheduler schedules sequences. The engine owns requests; the scheduler
// holds pointers to their sequences while they are waiting or running.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/model_executor.h"
#include "engine/sampling_params.h"
#include "grammar/matcher.h"

namespace tern {

enum class FinishReason { kStop, kLength, kAbort, kError };

// "stop", "length", "abort", "error" (OpenAI's finish_reason where it has one).
const char* finish_reason_name(FinishReason reason);

enum class SequenceStatus { kWaiting, kRunning, kFinished };

struct Request;

struct Sequence {
  Request* request = nullptr;
  uint64_t seq_id = 0;
  int32_t index = 0;                   // which of the request's n completions
  uint64_t seed = 0;                   // the request's seed + index
  std::vector<int32_t> token_ids;      // the prompt, then the output
  std::vector<uint64_t> block_hashes;  // one per full block of token_ids (prefix caching on)
  // Tokens whose KV is in the cache. The scheduler hands out num_tokens() - this.
  int32_t num_computed_tokens = 0;
  SequenceStatus status = SequenceStatus::kWaiting;
  std::optional<FinishReason> finish_reason;
  // The leader (index 0) of an n > 1 request before its siblings exist; see Scheduler.
  bool fork_pending = false;
  uint64_t scheduled_in_step = 0;  // the scheduler's step counter when last scheduled
  // Structured output: where the output stands in the request's grammar (null without one).
  std::unique_ptr<grammar::Matcher> matcher;
  // Speculative decoding, in a step where the sequence drafts: its last token, then the
  // drafts; the step computes all of them and verifies the drafts.
  std::vector<int32_t> verify_token_ids;
  // With a grammar: the matcher after drafts 1..r, for r = 1..drafts (the masks of the
  // rows after them).
  std::vector<grammar::Matcher> draft_matchers;
  // Moving average of the fraction of its drafts accepted per verifying step: sets how many
  // it drafts (Scheduler::propose_drafts).
  float draft_acceptance = 1.0f;

  int32_t num_tokens() const { return static_cast<int32_t>(token_ids.size()); }
  int32_t num_prompt_tokens() const;
  int32_t num_output_tokens() const { return num_tokens() - num_prompt_tokens(); }
  std::span<const int32_t> prompt_token_ids() const;
  std::span<const int32_t> output_token_ids() const;
};

struct RequestTimes {
  using Clock = std::chrono::steady_clock;
  Clock::time_point arrival;          // add_request()
  Clock::time_point first_scheduled;  // first step that computed any of its tokens
  Clock::time_point first_token;      // first sampled token
  Clock::time_point finished;
};

struct Request {
  uint64_t request_id = 0;
  int32_t priority = 0;        // lower is more important (as vLLM)
  uint64_t arrival_order = 0;  // set by Scheduler::add_request: FCFS among equal priorities
  SamplingParams params;       // seed always set
  int32_t num_prompt_tokens = 0;
  // Ids that end a sequence (eos unless ignore_eos, and stop_token_ids); banned from
  // sampling until min_tokens tokens exist.
  std::vector<int32_t> stop_token_ids;
  std::vector<std::unique_ptr<Sequence>> seqs;  // seqs[0] from the start; forks add the rest
  int32_t num_unfinished_seqs = 0;
  bool admitted = false;                 // got KV blocks at least once
  int32_t num_cached_prompt_tokens = 0;  // prefix-cache hit at its first admission
  std::string error_message;             // with FinishReason::kError
  bool numerical_error = false;          // kError because of NaN/Inf logits
  // params.prompt_logprobs >= 0: entry i scores prompt token i + 1 (filled by the executor).
  std::vector<TokenLogprob> prompt_logprobs;
  RequestTimes times;

  // A request with one waiting sequence holding the prompt. params.seed must be set.
  static std::unique_ptr<Request> create(uint64_t request_id, std::vector<int32_t> prompt_token_ids,
                                         SamplingParams params, int32_t priority,
                                         std::span<const int32_t> eos_token_ids);
  bool finished() const { return num_unfinished_seqs == 0; }
};

}  // namespace tern
