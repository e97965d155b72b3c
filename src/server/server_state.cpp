#include "server/server_state.h"

#include <cstdio>
#include <random>

namespace tern::server {

ServerState::ServerState(ServerConfig config)
    : config_(std::move(config)),
      body_budget_(config_.max_pending_body_bytes),
      next_id_((uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()),
      preprocess_pool_(config_.preprocess_threads, config_.max_preprocess_queue) {}

std::shared_ptr<const ServedModel> ServerState::model() const {
  std::lock_guard lock(model_mutex_);
  return model_;
}

void ServerState::set_model(std::shared_ptr<const ServedModel> model) {
  std::lock_guard lock(model_mutex_);
  model_ = std::move(model);
}

std::string ServerState::next_request_id() {
  // A random start and a mixing step: ids are unique per process and not guessable in order.
  uint64_t x = next_id_.fetch_add(0x9E3779B97F4A7C15ull);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(x));
  return buf;
}

}  // namespace tern::server
