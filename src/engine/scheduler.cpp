#include "engine/scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "engine/context_length.h"
#include "engine/ngram_proposer.h"
#include "engine/request_rejected.h"

namespace tern {
namespace {

const EngineSizes& validated(const EngineSizes& s) {
  const auto require = [](const char* field, int32_t value, int32_t min) {
    if (value < min) throw error("engine sizes: ", field, " must be at least ", min, ", got ", value);
  };
  require("block_size", s.block_size, 1);
  require("num_kv_blocks", s.num_kv_blocks, 1);
  require("max_model_len", s.max_model_len, 1);
  require("max_num_batched_tokens", s.max_num_batched_tokens, 1);
  require("max_num_seqs", s.max_num_seqs, 1);
  require("max_prompt_logprob_tokens", s.max_prompt_logprob_tokens, 0);
  return s;
}

const EngineConfig& validated(const EngineConfig& c) {
  if (c.max_waiting < 1) throw error("engine config: max_waiting must be at least 1, got ", c.max_waiting);
  const SpeculativeConfig& spec = c.speculative;
  if (spec.num_tokens < 1 || spec.num_tokens > SpeculationStats::kMaxDrafts)
    throw error("engine config: speculative num_tokens must be in [1, ", SpeculationStats::kMaxDrafts, "], got ",
                spec.num_tokens);
  if (spec.disable_by_batch_size < 1)
    throw error("engine config: speculative disable_by_batch_size must be at least 1, got ",
                spec.disable_by_batch_size);
  if (spec.ngram.min_n < 1 || spec.ngram.max_n < spec.ngram.min_n)
    throw error("engine config: n-gram sizes must satisfy 1 <= min_n <= max_n, got ", spec.ngram.min_n, " and ",
                spec.ngram.max_n);
  if (!(std::isfinite(c.target_itl_ms) && c.target_itl_ms >= 0))
    throw error("engine config: target_itl_ms must be 0 (off) or a positive number of milliseconds, got ",
                c.target_itl_ms);
  return c;
}

bool contains(std::span<const int32_t> ids, int32_t id) { return std::ranges::find(ids, id) != ids.end(); }

}  // namespace

Scheduler::Scheduler(const EngineSizes& sizes, const EngineConfig& config)
    : sizes_(validated(sizes)),
      config_(validated(config)),
      kv_(KvCacheConfig{.block_size = sizes.block_size,
                        .num_blocks = sizes.num_kv_blocks,
                        .prefix_caching = config.kv_layout == KvLayout::kContiguous ? PrefixCaching::kDisabled
                                                                                    : config.prefix_caching}) {
  running_.reserve(static_cast<size_t>(sizes_.max_num_seqs));
  output_.seqs.reserve(static_cast<size_t>(sizes_.max_num_seqs));
  output_.block_copies.reserve(static_cast<size_t>(sizes_.max_num_seqs));
  updates_.reserve(static_cast<size_t>(sizes_.max_num_seqs));
}

void Scheduler::check_admissible(int32_t num_prompt_tokens, const SamplingParams& params) const {
  const auto reject = [](RejectReason reason, auto&&... parts) {
    throw RequestRejected(reason, detail::concat(parts...));
  };
  if (num_prompt_tokens < 1) reject(RejectReason::kInvalid, "the prompt is empty");
  const bool scoring_only = params.max_tokens == 0 && params.prompt_logprobs >= 0 && params.n == 1;
  if (params.max_tokens < 1 && !scoring_only)
    reject(RejectReason::kInvalid, "max_tokens must be at least 1 (0 only to score the prompt), got ",
           params.max_tokens);
  if (params.prompt_logprobs >= 0 && sizes_.max_prompt_logprob_tokens < 1)
    reject(RejectReason::kInvalid, "this model executor cannot compute prompt logprobs");
  if (params.min_tokens < 0 || params.min_tokens > params.max_tokens) {
    reject(RejectReason::kInvalid, "min_tokens must be in [0, max_tokens = ", params.max_tokens, "], got ",
           params.min_tokens);
  }
  if (params.n < 1 || params.n > sizes_.max_num_seqs) {
    reject(RejectReason::kInvalid, "n must be in [1, ", sizes_.max_num_seqs, "], got ", params.n);
  }
  if (const auto too_long = context_length_error(num_prompt_tokens, params.max_tokens, sizes_.max_model_len))
    reject(RejectReason::kContextLength, *too_long);
  const int64_t total = int64_t{num_prompt_tokens} + params.max_tokens;
  const int64_t num_blocks = (total + sizes_.block_size - 1) / sizes_.block_size;
  if (num_blocks > sizes_.num_kv_blocks) {
    reject(RejectReason::kKvCapacity, "the request needs ", num_blocks, " KV cache blocks (", num_prompt_tokens,
           " prompt + ", params.max_tokens, " completion tokens) but the KV cache holds only ", sizes_.num_kv_blocks,
           " blocks of ", sizes_.block_size, " tokens");
  }
}

void Scheduler::add_request(Request& request) {
  TERN_CHECK(request.seqs.size() == 1 && request.seqs[0]->status == SequenceStatus::kWaiting, "request ",
             request.request_id, " was added before");
  request.arrival_order = next_arrival_++;
  Sequence& leader = *request.seqs[0];
  leader.seq_id = next_seq_id_++;
  leader.fork_pending = request.params.n > 1;
  kv_.extend_block_hashes(leader.block_hashes, leader.token_ids);
  waiting_.push(&leader);
}

void Scheduler::abort_request(Request& request) {
  for (auto& seq : request.seqs) {
    if (seq->status != SequenceStatus::kFinished) finish(*seq, FinishReason::kAbort);
  }
}

void Scheduler::fail_request(Request& request, const std::string& message) {
  request.error_message = message;
  for (auto& seq : request.seqs) {
    if (seq->status != SequenceStatus::kFinished) finish(*seq, FinishReason::kError);
  }
}

void Scheduler::finish(Sequence& seq, FinishReason reason) {
  if (seq.status == SequenceStatus::kRunning) {
    remove_from_running(seq);
    kv_.free(seq.seq_id);
  } else {
    waiting_.erase(&seq);
  }
  seq.fork_pending = false;
  seq.status = SequenceStatus::kFinished;
  seq.finish_reason = reason;
  --seq.request->num_unfinished_seqs;
  finished_since_schedule_.push_back(seq.seq_id);
}

void Scheduler::remove_from_running(Sequence& seq) {
  running_.erase(std::ranges::find(running_, &seq));
  if (seq.fork_pending) num_reserved_slots_ -= seq.request->params.n - 1;
}

const SchedulerOutput& Scheduler::schedule() {
  ++step_;
  output_.seqs.clear();
  output_.preempted_seq_ids.clear();
  output_.finished_seq_ids.swap(finished_since_schedule_);
  finished_since_schedule_.clear();
  budget_ = sizes_.max_num_batched_tokens;
  prompt_logprob_budget_ = sizes_.max_prompt_logprob_tokens;
  draft_budget_ = 0;
  if (config_.speculative.method != SpeculativeMethod::kNone) {
    const auto decoding = std::ranges::count_if(
        running_, [](const Sequence* seq) { return seq->num_tokens() - seq->num_computed_tokens == 1; });
    if (decoding <= config_.speculative.disable_by_batch_size) draft_budget_ = sizes_.max_draft_tokens;
  }
  const bool may_admit = config_.scheduler == SchedulerMode::kContinuous || running_.empty();

  step_prefills_ = 0;
  step_has_decodes_ = false;
  schedule_running(/*decodes=*/true);
  step_has_decodes_ = !output_.seqs.empty();
  schedule_running(/*decodes=*/false);
  // After a preemption, admitting new work would only take the blocks back.
  if (may_admit && output_.preempted_seq_ids.empty()) schedule_waiting();

  output_.num_batched_tokens = sizes_.max_num_batched_tokens - budget_;
  for (ScheduledSequence& s : output_.seqs) s.block_table = kv_.block_table(s.seq->seq_id);
  kv_.take_block_copies(output_.block_copies);
  return output_;
}

void Scheduler::schedule_running(bool decodes) {
  for (size_t i = 0; i < running_.size() && budget_ > 0; ++i) {
    Sequence& seq = *running_[i];
    const int32_t num_left = seq.num_tokens() - seq.num_computed_tokens;
    if (seq.scheduled_in_step == step_ || (num_left == 1) != decodes) continue;
    const int32_t uncut = std::min({num_left, budget_, prompt_logprob_cap(seq)});
    const int32_t num_new = decodes ? uncut : std::min(uncut, prefill_cap(seq, seq.num_computed_tokens));
    num_prefill_chunks_cut_ += num_new < uncut;
    if (num_new == 0) continue;
    // Drafts take only free blocks: they never preempt another sequence.
    int32_t num_drafts = decodes ? propose_drafts(seq) : 0;
    if (num_drafts > 0 &&
        !kv_.allocate_slots(seq.seq_id, seq.num_computed_tokens,
                            tokens_to_cover(seq, seq.num_computed_tokens + num_new + num_drafts)))
      num_drafts = 0;
    const size_t num_preempted = output_.preempted_seq_ids.size();
    if (num_drafts > 0 || allocate_or_preempt(seq, num_new)) {
      add_to_batch(seq, num_new, num_drafts);
      step_prefills_ += !decodes;
    }
    // A preemption reorders running_: scan again from the start; scheduled ones are skipped.
    if (output_.preempted_seq_ids.size() != num_preempted) i = static_cast<size_t>(-1);
  }
}

void Scheduler::schedule_waiting() {
  while (!waiting_.empty()) {
    Sequence& seq = *waiting_.front();
    const int32_t num_slots = seq.fork_pending ? seq.request->params.n : 1;
    if (num_running_slots() + num_slots > sizes_.max_num_seqs) break;
    // A static batch starts whole even when its prompts take several steps.
    if (config_.scheduler == SchedulerMode::kContinuous && budget_ == 0) break;
    // Prompt logprobs need every prompt position computed: no prefix-cache hit.
    const PrefixMatch match =
        seq.request->params.prompt_logprobs >= 0 ? PrefixMatch{} : kv_.match_prefix(seq.block_hashes, seq.token_ids);
    // Stall-free batching may leave no room for another prompt this step.
    const int32_t cap = prefill_cap(seq, match.num_tokens);
    const int32_t uncut = std::min({seq.num_tokens() - match.num_tokens, budget_, prompt_logprob_cap(seq)});
    num_prefill_chunks_cut_ += cap < uncut;
    if (cap == 0) break;
    const int32_t num_new = std::min(uncut, cap);
    if (num_new == 0 && seq.request->params.prompt_logprobs >= 0) break;
    if (!kv_.allocate_new(seq.seq_id, match, tokens_to_cover(seq, match.num_tokens + num_new))) break;

    waiting_.pop_front();
    seq.status = SequenceStatus::kRunning;
    seq.num_computed_tokens = match.num_tokens;
    running_.push_back(&seq);
    num_reserved_slots_ += num_slots - 1;
    Request& request = *seq.request;
    if (!request.admitted) {
      request.admitted = true;
      request.num_cached_prompt_tokens = match.num_tokens;
    }
    if (num_new > 0) {
      add_to_batch(seq, num_new);
      ++step_prefills_;
    }
  }
}

int32_t Scheduler::tokens_to_cover(const Sequence& seq, int32_t end) const {
  if (config_.kv_layout == KvLayout::kPaged) return end;
  return std::max(end, seq.num_prompt_tokens() + seq.request->params.max_tokens);
}

bool Scheduler::allocate_or_preempt(Sequence& seq, int32_t num_new_tokens) {
  while (!kv_.allocate_slots(seq.seq_id, seq.num_computed_tokens,
                             tokens_to_cover(seq, seq.num_computed_tokens + num_new_tokens))) {
    Sequence* victim = pick_victim();
    preempt(*victim);
    if (victim == &seq) return false;
  }
  return true;
}

int32_t Scheduler::prompt_logprob_cap(const Sequence& seq) const {
  if (seq.request->params.prompt_logprobs < 0 || seq.num_computed_tokens >= seq.num_prompt_tokens())
    return std::numeric_limits<int32_t>::max();
  return prompt_logprob_budget_;
}

int32_t Scheduler::drafts_for(float acceptance) const {
  if (config_.speculative.fixed_num_tokens) return config_.speculative.num_tokens;
  // With acceptance a per draft, a run of accepted drafts is a / (1 - a) long on average;
  // drafting past twice that mostly buys rejected positions. At least one draft, so the
  // estimate can recover.
  const float run = acceptance / std::max(1.0f - acceptance, 1e-3f);
  return std::clamp(static_cast<int32_t>(std::ceil(2.0f * run)), 1, config_.speculative.num_tokens);
}

int32_t Scheduler::propose_drafts(Sequence& seq) {
  // Banned ids hold for the next token only, so such a sequence does not draft; nor does
  // one with a grammar when the executor drafts (its drafts cannot be checked here).
  const bool executor_drafts = config_.speculative.method == SpeculativeMethod::kDraftModel;
  if (draft_budget_ == 0 || !banned_token_ids(seq).empty() || (seq.matcher && executor_drafts)) return 0;
  const int32_t most = std::min({drafts_for(seq.draft_acceptance), draft_budget_, budget_ - 1,
                                 seq.request->params.max_tokens - seq.num_output_tokens() - 1,
                                 sizes_.max_model_len - seq.num_tokens() - 1});
  if (most <= 0) return 0;
  seq.verify_token_ids.assign(1, seq.token_ids.back());
  if (executor_drafts) {
    seq.verify_token_ids.resize(size_t(most) + 1, 0);  // placeholders: the executor's draft model fills them
  } else {
    propose_ngram(seq.token_ids, config_.speculative.ngram, most, seq.verify_token_ids);
    // With a grammar, the drafts end before the first one it refuses (or an end id): the
    // mask of the row after it could allow nothing. The matcher after each kept draft
    // makes that row's mask.
    if (seq.matcher) {
      seq.draft_matchers.clear();
      for (size_t d = 1; d < seq.verify_token_ids.size(); ++d) {
        const int32_t draft = seq.verify_token_ids[d];
        grammar::Matcher next = d == 1 ? *seq.matcher : seq.draft_matchers.back();
        if (contains(seq.request->stop_token_ids, draft) || !next.accept_token(draft)) break;
        seq.draft_matchers.push_back(std::move(next));
      }
      seq.verify_token_ids.resize(seq.draft_matchers.size() + 1);
    }
  }
  return static_cast<int32_t>(seq.verify_token_ids.size()) - 1;
}

StepFeatures Scheduler::scheduled_features() const {
  StepFeatures f;
  for (const ScheduledSequence& s : output_.seqs) f.add_chunk(s.num_computed_tokens, s.num_new_tokens);
  return f;
}

int32_t Scheduler::prefill_cap(const Sequence& seq, int32_t computed) const {
  constexpr int32_t kNoLimit = std::numeric_limits<int32_t>::max();
  if (config_.target_itl_ms <= 0 || !step_has_decodes_ || !step_cost_.ready()) return kNoLimit;
  const int64_t fits = step_cost_.max_chunk(scheduled_features(), computed, config_.target_itl_ms,
                                            seq.num_tokens() - computed);
  return int32_t(step_prefills_ == 0 ? std::max<int64_t>(fits, kMinPrefillChunk) : fits);
}

void Scheduler::record_step_time(double milliseconds) { step_cost_.observe(scheduled_features(), milliseconds); }

void Scheduler::add_to_batch(Sequence& seq, int32_t num_new_tokens, int32_t num_draft_tokens) {
  if (prompt_logprob_cap(seq) != std::numeric_limits<int32_t>::max()) prompt_logprob_budget_ -= num_new_tokens;

  output_.seqs.push_back(ScheduledSequence{
      .seq = &seq,
      .num_computed_tokens = seq.num_computed_tokens,
      .num_new_tokens = num_new_tokens + num_draft_tokens,
      .num_draft_tokens = num_draft_tokens,
      .sample = seq.num_computed_tokens + num_new_tokens == seq.num_tokens(),
      .block_table = {},  // filled once the step's allocations are final
      .banned_token_ids = banned_token_ids(seq),
  });
  budget_ -= num_new_tokens + num_draft_tokens;
  draft_budget_ -= num_draft_tokens;
  seq.scheduled_in_step = step_;
}

Sequence* Scheduler::pick_victim() const {
  // The least important: max_element under "more important comes first".
  return *std::ranges::max_element(running_, WaitingQueue::more_important);
}

void Scheduler::preempt(Sequence& victim) {
  if (victim.scheduled_in_step == step_) {
    const auto it = std::ranges::find(output_.seqs, &victim, &ScheduledSequence::seq);
    budget_ += it->num_new_tokens;
    draft_budget_ += it->num_draft_tokens;
    output_.seqs.erase(it);
    victim.scheduled_in_step = 0;
  }
  remove_from_running(victim);
  kv_.free(victim.seq_id);
  victim.num_computed_tokens = 0;
  victim.status = SequenceStatus::kWaiting;
  waiting_.push(&victim);
  output_.preempted_seq_ids.push_back(victim.seq_id);
  ++num_preemptions_;
}

int32_t Scheduler::fork_point(const Sequence& leader) const {
  if (config_.kv_layout == KvLayout::kContiguous) return 0;
  // Everything but the last prompt token, whose logits each fork needs for its own sample.
  return leader.num_prompt_tokens() - 1;
}

void Scheduler::maybe_fork(Sequence& leader) {
  const int32_t num_shared_tokens = fork_point(leader);
  if (!leader.fork_pending || leader.num_computed_tokens < num_shared_tokens) return;
  Request& request = *leader.request;
  leader.fork_pending = false;
  num_reserved_slots_ -= request.params.n - 1;
  const auto prompt = leader.prompt_token_ids();
  const size_t num_prompt_hashes = std::min(leader.block_hashes.size(), prompt.size() / sizes_.block_size);
  for (int32_t index = 1; index < request.params.n; ++index) {
    auto child = std::make_unique<Sequence>();
    child->request = &request;
    child->seq_id = next_seq_id_++;
    child->index = index;
    child->seed = *request.params.seed + static_cast<uint64_t>(index);
    child->token_ids.assign(prompt.begin(), prompt.end());
    if (request.params.grammar) child->matcher = std::make_unique<grammar::Matcher>(request.params.grammar);
    child->block_hashes.assign(leader.block_hashes.begin(), leader.block_hashes.begin() + num_prompt_hashes);
    kv_.fork(leader.seq_id, child->seq_id, num_shared_tokens);
    child->num_computed_tokens = num_shared_tokens;
    child->status = SequenceStatus::kRunning;
    running_.push_back(child.get());
    request.seqs.push_back(std::move(child));
    ++request.num_unfinished_seqs;
  }
}

std::optional<FinishReason> Scheduler::check_stop(const Sequence& seq) const {
  const Request& request = *seq.request;
  if (seq.num_output_tokens() > request.params.min_tokens && contains(request.stop_token_ids, seq.token_ids.back())) {
    return FinishReason::kStop;
  }
  // A complete grammar with nothing more to add ends the output, before any length limit.
  if (seq.matcher && seq.matcher->is_terminated()) return FinishReason::kStop;
  if (seq.num_output_tokens() >= request.params.max_tokens || seq.num_tokens() >= sizes_.max_model_len) {
    return FinishReason::kLength;
  }
  return std::nullopt;
}

std::span<const int32_t> Scheduler::banned_token_ids(const Sequence& seq) const {
  const Request& request = *seq.request;
  if (seq.num_output_tokens() >= request.params.min_tokens) return {};
  return request.stop_token_ids;
}

const std::vector<SequenceUpdate>& Scheduler::update_from_output(const SchedulerOutput& output,
                                                                 std::span<const SampledToken> sampled,
                                                                 const StopStringCheck& stop_string) {
  updates_.clear();
  size_t next = 0;
  for (const ScheduledSequence& s : output.seqs) {
    Sequence& seq = *s.seq;
    // The executor's tokens for this sequence: one, or with drafts up to num_draft_tokens + 1.
    std::span<const SampledToken> tokens;
    if (s.sample) {
      size_t count = 0;
      while (next + count < sampled.size() && sampled[next + count].seq_id == seq.seq_id) ++count;
      TERN_CHECK(count >= 1 && count <= size_t(s.num_draft_tokens) + 1, "the executor returned ", count,
                 " tokens for sequence ", seq.seq_id, " with ", s.num_draft_tokens, " drafts");
      tokens = sampled.subspan(next, count);
      next += count;
    }
    if (seq.status != SequenceStatus::kRunning) continue;  // its request failed earlier in this batch
    // The drafts' KV counts once they are accepted, below.
    seq.num_computed_tokens += s.num_new_tokens - s.num_draft_tokens;
    if (!tokens.empty() && tokens.front().numerical_error) {
      fail_numerical(seq, tokens.front());
      continue;
    }
    maybe_fork(seq);
    if (tokens.empty()) continue;
    if (seq.request->params.max_tokens == 0) {  // scoring only: the prompt is done
      kv_.cache_blocks(seq.seq_id, seq.block_hashes, seq.token_ids, seq.num_computed_tokens);
      updates_.push_back({&seq, {}, FinishReason::kLength});
      finish(seq, FinishReason::kLength);
      continue;
    }
    append_tokens(s, tokens, stop_string);
  }
  TERN_CHECK(next == sampled.size(), "the executor returned ", sampled.size(), " tokens, ", next,
             " for the sampled sequences");
  return updates_;
}

void Scheduler::append_tokens(const ScheduledSequence& s, std::span<const SampledToken> tokens,
                              const StopStringCheck& stop_string) {
  Sequence& seq = *s.seq;
  const size_t first_update = updates_.size();
  for (size_t i = 0; i < tokens.size(); ++i) {
    const SampledToken& token = tokens[i];
    if (i > 0) {
      // Token i - 1 was the draft verified here, so its KV is right.
      if (token.numerical_error) break;  // the row after an accepted draft: handled below
      ++seq.num_computed_tokens;
    }
    // A clean sample vouches for the KV of every computed token.
    kv_.cache_blocks(seq.seq_id, seq.block_hashes, seq.token_ids, seq.num_computed_tokens);
    seq.token_ids.push_back(token.token_id);
    kv_.extend_block_hashes(seq.block_hashes, seq.token_ids);
    // Structured output: the sampled token was allowed by the step's mask, so the grammar
    // takes it (a stop id ends the output instead of being text).
    if (seq.matcher && !contains(seq.request->stop_token_ids, token.token_id) &&
        !seq.matcher->accept_token(token.token_id)) {
      fail_request_with_updates(*seq.request, "internal error: the grammar refused token " +
                                                  std::to_string(token.token_id) + " that its mask allowed");
      break;
    }
    std::optional<FinishReason> reason = check_stop(seq);
    // A stop id ends the output without being text; any other token may complete a stop
    // string, which wins over a length limit reached by the same token.
    const bool stop_id = reason == FinishReason::kStop && contains(seq.request->stop_token_ids, token.token_id);
    if (!stop_id && stop_string && stop_string(seq, token)) reason = FinishReason::kStop;
    if (i == 0) {
      updates_.push_back({&seq, tokens.first(1), reason});
    } else {
      updates_[first_update].sampled = tokens.first(i + 1);
      updates_[first_update].finish = reason;
    }
    if (reason) {
      finish(seq, *reason);
      break;
    }
  }
  // Each row after the first exists because the token before it equalled its draft; the
  // count stands even when a stop condition then dropped some of them.
  if (s.num_draft_tokens > 0) {
    const int32_t accepted = static_cast<int32_t>(tokens.size()) - 1;
    speculation_.add(s.num_draft_tokens, accepted);
    seq.draft_acceptance = 0.7f * seq.draft_acceptance + 0.3f * float(accepted) / float(s.num_draft_tokens);
  }
  if (seq.status != SequenceStatus::kRunning) return;
  // Still running with tokens left over: the loop stopped at a NaN/Inf row.
  if (const size_t output = updates_[first_update].sampled.size(); output < tokens.size()) {
    fail_numerical(seq, tokens[output]);
    return;
  }
  // Rejected drafts leave KV nothing will read; their blocks go back to the pool.
  if (s.num_draft_tokens > 0 && config_.kv_layout == KvLayout::kPaged) kv_.shrink(seq.seq_id, seq.num_tokens());
}

void Scheduler::fail_numerical(Sequence& seq, const SampledToken& token) {
  ++num_numerical_errors_;
  // Its blocks are freed without entering the prefix cache.
  seq.request->numerical_error = true;
  fail_request_with_updates(*seq.request,
                            "numerical error: the model produced NaN or Inf logits (" + token.error + ")");
}

void Scheduler::fail_request_with_updates(Request& request, const std::string& message) {
  for (auto& member : request.seqs)
    if (member->status != SequenceStatus::kFinished) updates_.push_back({member.get(), {}, FinishReason::kError});
  fail_request(request, message);
}

}  // namespace tern
