#include "engine/engine.h"

#include <algorithm>
#include <limits>
#include <random>

#include "base/error.h"
#include "base/log.h"

namespace tern {
namespace {

using Clock = RequestTimes::Clock;

// The tokenizer's eos id joins the model's.
EngineConfig with_tokenizer_eos(EngineConfig config, const Tokenizer& tokenizer) {
  const std::optional<int32_t> eos = tokenizer.eos_token_id();
  if (eos && std::ranges::find(config.eos_token_ids, *eos) == config.eos_token_ids.end()) {
    config.eos_token_ids.push_back(*eos);
  }
  return config;
}

const ModelExecutor& checked(const std::unique_ptr<ModelExecutor>& executor, const Tokenizer* tokenizer) {
  TERN_CHECK(executor != nullptr && tokenizer != nullptr, "the engine needs an executor and a tokenizer");
  return *executor;
}

uint64_t random_seed() {
  thread_local std::mt19937_64 rng{(uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()};
  return rng();
}

}  // namespace

Engine::Engine(std::unique_ptr<ModelExecutor> executor, std::shared_ptr<const Tokenizer> tokenizer, EngineConfig config)
    : executor_(std::move(executor)),
      tokenizer_(std::move(tokenizer)),
      scheduler_(checked(executor_, tokenizer_.get()).sizes(), with_tokenizer_eos(std::move(config), *tokenizer_)) {
  batch_.seqs.reserve(static_cast<size_t>(sizes().max_num_seqs));
  counters_.memory = executor_->memory();
  publish_stats();
}

Engine::~Engine() { stop(); }

RequestHandle Engine::add_request(std::vector<int32_t> prompt_token_ids, SamplingParams params, int32_t priority) {
  const auto reject = [&](RejectReason reason, const std::string& message) {
    ++num_rejected_[static_cast<size_t>(reason)];
    throw RequestRejected(reason, message);
  };
  if (failed_) reject(RejectReason::kUnavailable, "the engine has failed and accepts no requests");
  if (prompt_token_ids.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    reject(RejectReason::kInvalid, "the prompt is too long");
  }
  try {
    scheduler_.check_admissible(static_cast<int32_t>(prompt_token_ids.size()), params);
  } catch (const RequestRejected& e) {
    reject(e.reason(), e.what());
  }
  int32_t waiting = num_not_started_.load();
  do {
    if (waiting >= config().max_waiting) {
      reject(RejectReason::kBusy, detail::concat("server busy: ", waiting, " requests are waiting; retry later"));
    }
  } while (!num_not_started_.compare_exchange_weak(waiting, waiting + 1));

  if (!params.seed) params.seed = random_seed();
  const uint64_t request_id = next_request_id_++;
  LiveRequest live;
  live.request =
      Request::create(request_id, std::move(prompt_token_ids), std::move(params), priority, config().eos_token_ids);
  live.request->times.arrival = Clock::now();
  live.stream = std::make_shared<RequestStream>();
  const Request& request = *live.request;
  live.texts.reserve(static_cast<size_t>(request.params.n));
  live.prompt_logprobs_sent.assign(static_cast<size_t>(request.params.n), 0);
  live.step_texts.resize(static_cast<size_t>(request.params.n));
  for (int32_t i = 0; i < request.params.n; ++i) {
    live.texts.emplace_back(tokenizer_, request.params.skip_special_tokens, request.params.stop,
                            request.params.include_stop_str_in_output);
  }
  RequestHandle handle(request_id, live.stream);
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_adds_.push_back(std::move(live));
  }
  inbox_ready_.notify_one();
  return handle;
}

void Engine::abort(uint64_t request_id) {
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_aborts_.push_back(request_id);
  }
  inbox_ready_.notify_one();
}

bool Engine::step() {
  TERN_CHECK(!thread_.joinable(), "step() called while the engine thread runs");
  return run_step();
}

void Engine::start() {
  TERN_CHECK(!thread_.joinable(), "the engine thread is already running");
  {
    std::lock_guard lock(inbox_mutex_);
    stop_requested_ = false;
  }
  thread_ = std::thread([this] { loop(); });
}

void Engine::stop() {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(inbox_mutex_);
      stop_requested_ = true;
    }
    inbox_ready_.notify_all();
    thread_.join();
  }
  take_inbox();
  std::vector<uint64_t> ids;
  for (const auto& [id, live] : live_) ids.push_back(id);
  for (uint64_t id : ids) end_request(live_.at(id), FinishReason::kAbort);
  publish_stats();
}

void Engine::loop() {
  while (!failed_) {
    {
      std::unique_lock lock(inbox_mutex_);
      inbox_ready_.wait(lock, [&] {
        return stop_requested_ || !inbox_adds_.empty() || !inbox_aborts_.empty() || scheduler_.has_unfinished();
      });
      if (stop_requested_) return;
    }
    run_step();
  }
}

bool Engine::run_step() {
  take_inbox();
  if (scheduler_.has_unfinished()) execute_step();
  publish_stats();
  return scheduler_.has_unfinished();
}

void Engine::take_inbox() {
  {
    std::lock_guard lock(inbox_mutex_);
    adds_.swap(inbox_adds_);
    aborts_.swap(inbox_aborts_);
  }
  for (LiveRequest& live : adds_) {
    const uint64_t id = live.request->request_id;
    scheduler_.add_request(*live.request);
    LiveRequest& added = live_.emplace(id, std::move(live)).first->second;
    if (failed_) end_request(added, FinishReason::kError);
  }
  adds_.clear();
  for (uint64_t id : aborts_) {
    if (const auto it = live_.find(id); it != live_.end()) end_request(it->second, FinishReason::kAbort);
  }
  aborts_.clear();
}

void Engine::execute_step() {
  const Clock::time_point started = Clock::now();
  const SchedulerOutput& output = scheduler_.schedule();
  if (output.seqs.empty()) return;
  counters_.max_running_seqs = std::max(counters_.max_running_seqs, scheduler_.num_running_seqs());
  counters_.max_used_kv_blocks = std::max(counters_.max_used_kv_blocks, scheduler_.kv().pool().num_used_blocks());
  const Clock::time_point now = Clock::now();
  batch_.seqs.clear();
  batch_.block_copies = output.block_copies;
  batch_.token_masks = nullptr;
  mask_jobs_.clear();
  int32_t mask_words = 0;
  counters_.num_kv_block_copies += static_cast<int64_t>(output.block_copies.size());
  for (const ScheduledSequence& s : output.seqs) {
    const Sequence& seq = *s.seq;
    Request& request = *seq.request;
    if (request.times.first_scheduled == Clock::time_point{}) {
      request.times.first_scheduled = now;
      --num_not_started_;
    }
    batch_.seqs.push_back(StepSequence{
        .seq_id = seq.seq_id,
        .num_computed_tokens = s.num_computed_tokens,
        .new_token_ids = s.new_token_ids(),
        .num_draft_tokens = s.num_draft_tokens,
        .block_table = s.block_table,
        .sample = s.sample,
        .params = &request.params,
        .seed = seq.seed,
        .prompt_token_ids = seq.prompt_token_ids(),
        .output_token_ids = seq.output_token_ids(),
        .banned_token_ids = s.banned_token_ids,
        .prompt_logprobs = request.params.prompt_logprobs,
        .prompt_logprobs_out = request.prompt_logprobs,
    });
    if (s.sample && seq.matcher) {
      // One mask row per sampled row: row r after drafts 1..r, from the matcher the
      // scheduler advanced through them.
      batch_.seqs.back().mask_row = int32_t(mask_jobs_.size());
      const bool may_end = batch_.seqs.back().banned_token_ids.empty();
      mask_jobs_.push_back({.matcher = seq.matcher.get(), .end_token_ids = request.stop_token_ids, .may_end = may_end});
      for (int32_t r = 0; r < s.num_draft_tokens; ++r)
        mask_jobs_.push_back({.matcher = &s.seq->draft_matchers[size_t(r)],
                              .end_token_ids = request.stop_token_ids,
                              .may_end = may_end});
      mask_words = std::max(mask_words, seq.matcher->grammar().vocabulary().mask_words());
    }
    counters_.num_computed_tokens += s.num_new_tokens;
  }
  ++counters_.num_steps;
  if (!mask_jobs_.empty()) {
    // Masks are made while the executor runs the forward; it waits for them to sample.
    mask_worker_.start(std::move(mask_jobs_), mask_words);
    mask_jobs_.clear();
    batch_.token_masks = &mask_worker_;
  }
  const std::vector<SequenceUpdate>* updates = nullptr;
  Clock::time_point sampled_at;  // one stamp for the step: its tokens were sampled together
  try {
    sampled_ = executor_->execute(batch_);  // the updates point into it
    sampled_at = Clock::now();
    // The matchers are the worker's until its job is done (the executor waited already,
    // unless it failed first).
    if (batch_.token_masks) {
      mask_worker_.wait();
      for (double us : mask_worker_.row_micros()) counters_.mask_times.add(us);
    }
    updates = &scheduler_.update_from_output(output, sampled_, stop_string_check_);
  } catch (const std::exception& e) {
    if (batch_.token_masks) {
      try {
        mask_worker_.wait();
      } catch (const std::exception&) {
        // The step failed already; its first error is the one reported.
      }
    }
    fail_all(e.what());
    return;
  }
  for (const SequenceUpdate& update : *updates) process_update(update, sampled_at);
  scheduler_.record_step_time(std::chrono::duration<double, std::milli>(Clock::now() - started).count());
}

bool Engine::push_text(const Sequence& seq, const SampledToken& token) {
  LiveRequest& live = live_.at(seq.request->request_id);
  const size_t index = static_cast<size_t>(seq.index);
  CompletionText& text = live.texts[index];
  live.step_texts[index] += text.push(token.token_id, seq.num_output_tokens() > seq.request->params.min_tokens);
  return text.stopped();
}

void Engine::process_update(const SequenceUpdate& update, Clock::time_point sampled_at) {
  Sequence& seq = *update.seq;
  Request& request = *seq.request;
  const uint64_t request_id = request.request_id;
  LiveRequest& live = live_.at(request_id);
  CompletionText& text = live.texts[static_cast<size_t>(seq.index)];
  RequestOutput out;
  out.index = seq.index;
  const std::optional<FinishReason> finish = update.finish;
  // The prompt's scores are complete once a completion samples or ends; each completion's
  // first delta carries them.
  if (request.params.prompt_logprobs >= 0 && !live.prompt_logprobs_sent[static_cast<size_t>(seq.index)]) {
    live.prompt_logprobs_sent[static_cast<size_t>(seq.index)] = true;
    out.prompt_logprobs = request.prompt_logprobs;
  }
  if (!update.sampled.empty()) {
    out.sampled_at = sampled_at;
    if (request.times.first_token == Clock::time_point{}) request.times.first_token = sampled_at;
    for (const SampledToken& token : update.sampled) {
      ++counters_.num_generated_tokens;
      out.token_ids.push_back(token.token_id);
      if (request.params.logprobs >= 0) out.logprobs.push_back({token.token_id, token.logprob, token.top_logprobs});
    }
    out.text = std::move(live.step_texts[static_cast<size_t>(seq.index)]);
    live.step_texts[static_cast<size_t>(seq.index)].clear();
  }
  if (finish) {
    out.text += text.flush();
    out.finish_reason = finish;
    if (*finish == FinishReason::kError) {
      // The scheduler ends sequences with kError for NaN/Inf logits and for a grammar that
      // refused a token its mask allowed; a failed model step ends them through end_request().
      out.error = request.error_message;
      out.numerical_error = request.numerical_error;
    }
    ++live.num_finals_sent;
    ++counters_.num_finished_seqs[static_cast<size_t>(*finish)];
  }
  if (send(live, std::move(out))) live_.erase(request_id);
}

void Engine::end_request(LiveRequest& live, FinishReason reason) {
  Request& request = *live.request;
  const uint64_t request_id = request.request_id;
  std::vector<Sequence*> ending;
  for (auto& seq : request.seqs) {
    if (seq->status != SequenceStatus::kFinished) ending.push_back(seq.get());
  }
  if (reason == FinishReason::kAbort) {
    scheduler_.abort_request(request);
  } else {
    scheduler_.fail_request(request, "internal error: the model step failed");
  }
  bool complete = false;
  for (const Sequence* seq : ending) {
    RequestOutput out;
    out.index = seq->index;
    out.finish_reason = reason;
    if (reason == FinishReason::kError) out.error = request.error_message;
    ++live.num_finals_sent;
    ++counters_.num_finished_seqs[static_cast<size_t>(reason)];
    complete = send(live, std::move(out));
  }
  if (complete) live_.erase(request_id);
}

void Engine::fail_all(const std::string& message) {
  log_error("engine: a model step failed, failing every request: ", message);
  failed_ = true;
  counters_.healthy = false;
  counters_.error = message;
  std::vector<uint64_t> ids;
  for (const auto& [id, live] : live_) ids.push_back(id);
  for (uint64_t id : ids) end_request(live_.at(id), FinishReason::kError);
}

bool Engine::send(LiveRequest& live, RequestOutput output) {
  Request& request = *live.request;
  const bool complete = request.finished() && live.num_finals_sent == static_cast<int32_t>(request.seqs.size());
  if (complete) {
    request.times.finished = Clock::now();
    if (request.times.first_scheduled == Clock::time_point{}) --num_not_started_;
    output.finished = true;
    output.usage.prompt_tokens = request.num_prompt_tokens;
    output.usage.cached_prompt_tokens = request.num_cached_prompt_tokens;
    for (const auto& seq : request.seqs) output.usage.generated_tokens += seq->num_output_tokens();
    output.times = request.times;
  }
  live.stream->push(std::move(output));
  return complete;
}

void Engine::publish_stats() {
  EngineStats s = counters_;
  const BlockPool& pool = scheduler_.kv().pool();
  s.num_requests = static_cast<int32_t>(live_.size());
  s.num_running_seqs = scheduler_.num_running_seqs();
  s.num_waiting_seqs = scheduler_.num_waiting_seqs();
  s.num_kv_blocks = pool.num_blocks();
  s.num_used_kv_blocks = pool.num_used_blocks();
  s.kv_usage = static_cast<double>(pool.num_used_blocks()) / pool.num_blocks();
  s.prefix_cache_queried_tokens = scheduler_.kv().prefix_cache_queried_tokens();
  s.prefix_cache_hit_tokens = scheduler_.kv().prefix_cache_hit_tokens();
  s.num_preemptions = scheduler_.num_preemptions();
  s.num_prefill_chunks_cut = scheduler_.num_prefill_chunks_cut();
  s.num_numerical_errors = scheduler_.num_numerical_errors();
  s.speculation = scheduler_.speculation();
  std::lock_guard lock(stats_mutex_);
  stats_ = std::move(s);
}

EngineStats Engine::stats() const {
  EngineStats s;
  {
    std::lock_guard lock(stats_mutex_);
    s = stats_;
  }
  for (size_t i = 0; i < s.num_rejected.size(); ++i) s.num_rejected[i] = num_rejected_[i].load();
  return s;
}

}  // namespace tern
