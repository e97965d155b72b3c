// One HTTP generation request in flight: its engine requests (one per prompt), the drain
// of their deltas into chunks, and where the chunks go (SSE or the aggregator). Streaming
// and non-streaming differ only in the sink.
//
// Threads: start(), cancel() and the drains run on the response channel's executor. The
// engine thread only calls the notifier, which posts a drain (at most one queued at a time).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/chunk_builder.h"
#include "server/metrics.h"
#include "server/response_channel.h"
#include "server/served_model.h"
#include "server/valid_request.h"

namespace tern::server {

class GenerationSink {
 public:
  virtual ~GenerationSink() = default;
  virtual void chunk(const Json& chunk) = 0;
  // The last call on failure: the error instead of a completion.
  virtual void fail(const ApiError& error) = 0;
  // The last call on success, after the usage chunk.
  virtual void done() = 0;
  // Nothing was sent for the keep-alive interval (queued, or a long prefill).
  virtual void keep_alive() {}
};

class Generation : public std::enable_shared_from_this<Generation> {
 public:
  // `request_id` names the request in error messages. With a keep_alive_interval > 0 the
  // sink's keep_alive() runs whenever that long passed with nothing sent.
  Generation(std::shared_ptr<const ServedModel> model, ValidRequest request, std::unique_ptr<ChunkBuilder> builder,
             std::unique_ptr<GenerationSink> sink, std::shared_ptr<ResponseChannel> channel, ServerMetrics& metrics,
             std::string request_id, std::chrono::milliseconds keep_alive_interval = {});
  ~Generation();

  // Adds the engine requests. Throws (RequestRejected, ...) before anything is sent, having
  // aborted any it added, so the caller answers with an error status.
  void start();
  // The client is gone: abort the engine requests (their KV blocks are freed at the next
  // engine step) and send nothing more.
  void cancel();

 private:
  struct Part {
    uint64_t request_id = 0;
    std::unique_ptr<RequestHandle> handle;
    std::vector<RequestTimes::Clock::time_point> last_sampled_at;  // per completion: its previous delta's
    bool finished = false;
  };

  void schedule_drain();
  void drain();
  void schedule_keep_alive();
  void keep_alive();
  void take(size_t part_index, const RequestOutput& out);
  void abort_unfinished();

  std::shared_ptr<const ServedModel> model_;
  ValidRequest request_;
  std::unique_ptr<ChunkBuilder> builder_;
  std::unique_ptr<GenerationSink> sink_;
  std::shared_ptr<ResponseChannel> channel_;
  ServerMetrics& metrics_;
  std::string request_id_;
  std::chrono::milliseconds keep_alive_interval_;
  bool sent_since_keep_alive_ = false;
  std::vector<Part> parts_;
  size_t num_unfinished_ = 0;
  UsageTotals usage_;
  bool ended_ = false;  // the sink had its last call, or the client is gone
  std::atomic<bool> drain_scheduled_{false};
  std::vector<Json> chunks_;  // scratch
};

}  // namespace tern::server
