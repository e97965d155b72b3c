// tern's HTTP server: listens first, loads the model in the background (/health answers
// 503 until it is ready), serves on a small fixed pool of event-loop threads, and shuts
// down gracefully on SIGINT/SIGTERM: stop accepting, let in-flight requests finish for
// up to shutdown_timeout, abort the rest (their streams end with finish_reason "abort"),
// exit. A second signal exits at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "server/served_model.h"
#include "server/server_config.h"

namespace tern::server {

// Runs on a background thread; returns the model with its engine not yet started, or
// throws tern::Error.
using ModelLoader = std::function<std::unique_ptr<ServedModel>()>;

class Server {
 public:
  explicit Server(ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the address (throws tern::Error when it cannot) and serves until shutdown.
  // Returns the process exit code: 0 after a signal, 1 when the model failed to load.
  int run(ModelLoader load);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::server
