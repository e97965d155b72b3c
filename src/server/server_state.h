// What every connection shares: the configuration, the metrics, the model once loaded,
// the lifecycle phase, the pool that runs request preprocessing off the I/O threads, and
// the budget of request-body bytes held at once.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "server/body_budget.h"
#include "server/metrics.h"
#include "server/preprocess_pool.h"
#include "server/served_model.h"
#include "server/server_config.h"

namespace tern::server {

enum class ServerPhase { kLoading, kReady, kDraining, kFailed };

class ServerState {
 public:
  // Starts config.preprocess_threads preprocessing threads.
  explicit ServerState(ServerConfig config);

  const ServerConfig& config() const { return config_; }
  ServerMetrics& metrics() { return metrics_; }

  // Null until the model is loaded.
  std::shared_ptr<const ServedModel> model() const;
  void set_model(std::shared_ptr<const ServedModel> model);
  ServerPhase phase() const { return phase_; }
  void set_phase(ServerPhase phase) { phase_ = phase; }

  PreprocessPool& preprocess_pool() { return preprocess_pool_; }
  BodyBudget& body_budget() { return body_budget_; }

  // Requests read and not yet fully answered; shutdown waits for 0.
  std::atomic<int64_t>& active_responses() { return active_responses_; }

  // A fresh id for logs and error messages: 16 hex digits.
  std::string next_request_id();

 private:
  ServerConfig config_;
  ServerMetrics metrics_;
  BodyBudget body_budget_;
  mutable std::mutex model_mutex_;
  std::shared_ptr<const ServedModel> model_;
  std::atomic<ServerPhase> phase_{ServerPhase::kLoading};
  std::atomic<int64_t> active_responses_{0};
  std::atomic<uint64_t> next_id_;
  PreprocessPool preprocess_pool_;  // last: its threads stop before the rest goes
};

}  // namespace tern::server
