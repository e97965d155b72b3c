// What every connection shares: the configuration, the metrics, the model once loaded,
// the lifecycle phase, and the pool that runs request preprocessing off the I/O threads.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "server/metrics.h"
#include "server/served_model.h"
#include "server/server_config.h"

namespace tern::server {

enum class ServerPhase { kLoading, kReady, kDraining, kFailed };

class ServerState {
 public:
  using Runner = std::function<void(std::function<void()>)>;

  // `preprocess` runs a function on the preprocessing pool.
  ServerState(ServerConfig config, Runner preprocess);

  const ServerConfig& config() const { return config_; }
  ServerMetrics& metrics() { return metrics_; }

  // Null until the model is loaded.
  std::shared_ptr<const ServedModel> model() const;
  void set_model(std::shared_ptr<const ServedModel> model);
  ServerPhase phase() const { return phase_; }
  void set_phase(ServerPhase phase) { phase_ = phase; }

  void preprocess(std::function<void()> work) const { preprocess_(std::move(work)); }

  // Requests read and not yet fully answered; shutdown waits for 0.
  std::atomic<int64_t>& active_responses() { return active_responses_; }

  // A fresh id for logs and error messages: 16 hex digits.
  std::string next_request_id();

 private:
  ServerConfig config_;
  Runner preprocess_;
  ServerMetrics metrics_;
  mutable std::mutex model_mutex_;
  std::shared_ptr<const ServedModel> model_;
  std::atomic<ServerPhase> phase_{ServerPhase::kLoading};
  std::atomic<int64_t> active_responses_{0};
  std::atomic<uint64_t> next_id_;
};

}  // namespace tern::server
