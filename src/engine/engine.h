// The engine: a request queue in front of the scheduler, the step loop (schedule -> the
// model executor -> update -> text and stop strings -> caller streams), and its thread.
//
// Threads (docs/engine.md): add_request(), abort() and stats() are safe from any thread;
// they only touch a locked inbox and counters. Only one thread mutates the scheduler, the
// KV manager and the requests: the engine thread after start(), or the caller of step()
// when no engine thread runs. Never call step() while the engine thread runs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/completion_text.h"
#include "engine/engine_config.h"
#include "engine/engine_stats.h"
#include "engine/model_executor.h"
#include "engine/request_stream.h"
#include "engine/scheduler.h"
#include "engine/token_mask_worker.h"
#include "tokenizer/tokenizer.h"

namespace tern {

class Engine {
 public:
  // The scheduler runs with the executor's sizes (ModelExecutor::sizes()) and `config`;
  // the tokenizer's eos id joins config.eos_token_ids. Throws tern::Error for a bad config.
  Engine(std::unique_ptr<ModelExecutor> executor, std::shared_ptr<const Tokenizer> tokenizer, EngineConfig config);
  // Stops the engine thread; requests still in flight end with "abort".
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request. An unset params.seed gets a random one. Throws RequestRejected when
  // it can never run (see Scheduler::check_admissible), when max_waiting requests are
  // already waiting to start (kBusy), or when the engine has failed (kUnavailable).
  RequestHandle add_request(std::vector<int32_t> prompt_token_ids, SamplingParams params, int32_t priority = 0);
  // Ends the request with "abort" and frees its blocks at the start of the next step.
  // Unknown and finished ids are ignored.
  void abort(uint64_t request_id);

  // Runs one step on the calling thread (tests and single-threaded tools): takes queued
  // adds and aborts, schedules, executes, streams results. Returns whether requests remain.
  bool step();
  // Runs steps on an engine thread that sleeps while there is nothing to do.
  void start();
  // Stops the engine thread, then ends every request still in flight with "abort".
  void stop();

  EngineStats stats() const;
  const EngineConfig& config() const { return scheduler_.config(); }
  const EngineSizes& sizes() const { return scheduler_.sizes(); }

 private:
  struct LiveRequest {
    std::unique_ptr<Request> request;
    std::shared_ptr<RequestStream> stream;
    std::vector<CompletionText> texts;          // one per completion
    int32_t num_finals_sent = 0;                // completions whose last delta went out
    std::vector<uint8_t> prompt_logprobs_sent;  // per completion
    std::vector<std::string> step_texts;        // per completion: the text of this step's token
  };

  void loop();
  bool run_step();
  void take_inbox();
  void execute_step();
  // The scheduler's StopStringCheck: detokenizes the sampled token into the completion's
  // step text and says whether it completed a stop string.
  bool push_text(const Sequence& seq, const SampledToken& token);
  void process_update(const SequenceUpdate& update, RequestTimes::Clock::time_point sampled_at);
  // Ends every unfinished completion (kAbort or kError) and erases the request.
  void end_request(LiveRequest& live, FinishReason reason);
  void fail_all(const std::string& message);
  // Pushes a delta; on the request's last one, marks it finished with usage and times and
  // returns true: the caller then erases the request.
  bool send(LiveRequest& live, RequestOutput output);
  void publish_stats();

  std::unique_ptr<ModelExecutor> executor_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  Scheduler scheduler_;

  // Engine-thread state.
  std::unordered_map<uint64_t, LiveRequest> live_;
  StepBatch batch_;
  std::vector<SampledToken> sampled_;
  std::vector<TokenMaskWorker::Job> mask_jobs_;
  const Scheduler::StopStringCheck stop_string_check_ = [this](const Sequence& seq, const SampledToken& token) {
    return push_text(seq, token);
  };
  TokenMaskWorker mask_worker_;  // structured output's masks, made while the forward runs
  std::vector<LiveRequest> adds_;
  std::vector<uint64_t> aborts_;
  EngineStats counters_;  // the engine thread's running totals

  // Shared with callers.
  std::mutex inbox_mutex_;
  std::condition_variable inbox_ready_;
  std::vector<LiveRequest> inbox_adds_;
  std::vector<uint64_t> inbox_aborts_;
  bool stop_requested_ = false;
  std::thread thread_;
  std::atomic<uint64_t> next_request_id_{1};
  std::atomic<int32_t> num_not_started_{0};
  std::atomic<bool> failed_{false};
  std::array<std::atomic<int64_t>, 5> num_rejected_{};
  mutable std::mutex stats_mutex_;
  EngineStats stats_;
};

}  // namespace tern
