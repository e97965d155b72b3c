// Prometheus metrics: latency histograms the server observes per request, counters the
// server keeps, and the engine's gauges and counters (EngineStats) read at scrape time.
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine_stats.h"
#include "engine/request.h"

namespace tern::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value, uint64_t times = 1);
  // "# HELP", "# TYPE" and the _bucket / _sum / _count lines.
  void render(const std::string& name, const std::string& help, std::string& out) const;

 private:
  std::vector<double> upper_bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; the last is +Inf
  double sum_ = 0.0;
  uint64_t count_ = 0;
};

// Why a request was refused before it was prepared (503 server_overloaded).
enum class ShedReason { kPreprocessQueue, kBodyBytes };

// The server's intake at scrape time: requests waiting for a preprocessing thread, and the
// request-body bytes held (docs/server.md, --max-preprocess-queue, --max-pending-body-bytes).
struct IntakeStats {
  size_t preprocess_queued = 0;
  size_t body_bytes = 0;
};

class ServerMetrics {
 public:
  ServerMetrics();
  // One engine request that ended normally (stop or length): its timestamps.
  void observe_request(const RequestTimes& times);
  // One completion's delta of `tokens` tokens sampled at `now`, its previous one at
  // `previous`: that many inter-token latencies of a tokens-th of the gap.
  void observe_token_gap(RequestTimes::Clock::time_point previous, RequestTimes::Clock::time_point now,
                         uint64_t tokens);
  void count_prompt_tokens(int64_t n);
  void count_client_disconnect();
  void count_shed(ShedReason reason);
  // The text format (version 0.0.4). `stats` is null while the model loads.
  std::string render(const EngineStats* stats, const IntakeStats& intake = {}) const;

 private:
  mutable std::mutex mutex_;
  Histogram time_to_first_token_;
  Histogram inter_token_latency_;
  Histogram e2e_request_latency_;
  Histogram request_queue_time_;
  int64_t prompt_tokens_ = 0;
  int64_t client_disconnects_ = 0;
  int64_t shed_[2] = {};  // by ShedReason
};

}  // namespace tern::server
