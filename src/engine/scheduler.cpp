#include "engine/scheduler.h"

#include <algorithm>
#include <limits>

#include "base/error.h"
#include "engine/context_length.h"
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
  const bool may_admit = config_.scheduler == SchedulerMode::kContinuous || running_.empty();

  schedule_running(/*decodes=*/true);
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
    const int32_t num_new = std::min({num_left, budget_, prompt_logprob_cap(seq)});
    if (num_new == 0) continue;
    const size_t num_preempted = output_.preempted_seq_ids.size();
    if (allocate_or_preempt(seq, num_new)) add_to_batch(seq, num_new);
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
    const int32_t num_new = std::min({seq.num_tokens() - match.num_tokens, budget_, prompt_logprob_cap(seq)});
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
    if (num_new > 0) add_to_batch(seq, num_new);
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

void Scheduler::add_to_batch(Sequence& seq, int32_t num_new_tokens) {
  if (prompt_logprob_cap(seq) != std::numeric_limits<int32_t>::max()) prompt_logprob_budget_ -= num_new_tokens;
  output_.seqs.push_back(ScheduledSequence{
      .seq = &seq,
      .num_computed_tokens = seq.num_computed_tokens,
      .num_new_tokens = num_new_tokens,
      .sample = seq.num_computed_tokens + num_new_tokens == seq.num_tokens(),
      .block_table = {},  // filled once the step's allocations are final
      .banned_token_ids = banned_token_ids(seq),
  });
  budget_ -= num_new_tokens;
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
    const SampledToken* token = nullptr;
    if (s.sample) {
      TERN_CHECK(next < sampled.size(), "the executor returned ", sampled.size(), " tokens for more sampled sequences");
      token = &sampled[next++];
      TERN_CHECK(token->seq_id == seq.seq_id, "sampled token for sequence ", token->seq_id, ", expected ", seq.seq_id);
    }
    if (seq.status != SequenceStatus::kRunning) continue;  // its request failed earlier in this batch
    seq.num_computed_tokens += s.num_new_tokens;
    if (token != nullptr && token->numerical_error) {
      ++num_numerical_errors_;
      Request& request = *seq.request;
      for (auto& member : request.seqs) {
        if (member->status != SequenceStatus::kFinished)
          updates_.push_back({member.get(), nullptr, FinishReason::kError});
      }
      // Its blocks are freed without entering the prefix cache.
      request.numerical_error = true;
      fail_request(request, "numerical error: the model produced NaN or Inf logits (" + token->error + ")");
      continue;
    }
    maybe_fork(seq);
    if (token == nullptr) continue;
    // A clean sample vouches for the KV of every computed token.
    kv_.cache_blocks(seq.seq_id, seq.block_hashes, seq.token_ids, seq.num_computed_tokens);
    if (seq.request->params.max_tokens == 0) {  // scoring only: the prompt is done
      updates_.push_back({&seq, nullptr, FinishReason::kLength});
      finish(seq, FinishReason::kLength);
      continue;
    }
    seq.token_ids.push_back(token->token_id);
    kv_.extend_block_hashes(seq.block_hashes, seq.token_ids);
    // Structured output: the sampled token was allowed by the step's mask, so the grammar
    // takes it (a stop id ends the output instead of being text).
    if (seq.matcher && !contains(seq.request->stop_token_ids, token->token_id) &&
        !seq.matcher->accept_token(token->token_id)) {
      Request& request = *seq.request;
      for (auto& member : request.seqs)
        if (member->status != SequenceStatus::kFinished)
          updates_.push_back({member.get(), nullptr, FinishReason::kError});
      fail_request(request, "internal error: the grammar refused token " + std::to_string(token->token_id) +
                                " that its mask allowed");
      continue;
    }
    std::optional<FinishReason> reason = check_stop(seq);
    // A stop id ends the output without being text; any other token may complete a stop
    // string, which wins over a length limit reached by the same token.
    const bool stop_id = reason == FinishReason::kStop && contains(seq.request->stop_token_ids, token->token_id);
    if (!stop_id && stop_string && stop_string(seq, *token)) reason = FinishReason::kStop;
    updates_.push_back({&seq, token, reason});
    if (reason) finish(seq, *reason);
  }
  TERN_CHECK(next == sampled.size(), "the executor returned ", sampled.size(), " tokens for ", next,
             " sampled sequences");
  return updates_;
}

}  // namespace tern
