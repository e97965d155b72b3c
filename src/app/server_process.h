// A `tern serve` child on a free loopback port, for benchmarks that measure tern's own
// configurations: started with the given flags, ready once /health answers 200, its
// /metrics readable, stopped with SIGTERM.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "app/child_process.h"

namespace tern::app {

class ServerProcess {
 public:
  // Starts `tern serve --host 127.0.0.1 --port 0 <flags>` logging to `log_path`, then
  // waits until it listens and /health answers 200. Throws tern::Error with the end of
  // its log when it exits or is not ready within `timeout_s` (loading a large model,
  // quantised weights and graph capture can take minutes).
  ServerProcess(const std::vector<std::string>& flags, const std::string& log_path, double timeout_s);

  const std::string& url() const { return url_; }
  // "model <dir> on backend <name>" from the log: the backend `auto` picked.
  const std::string& backend() const { return backend_; }
  // GET /metrics, parsed. Throws tern::Error when it does not answer.
  std::map<std::string, double> metrics() const;
  // SIGTERM and wait; returns the exit status (0 after a clean shutdown).
  int stop() { return child_.stop(60.0); }
  std::string log_tail() const { return child_.log_tail(); }

 private:
  ChildProcess child_;
  std::string url_;
  std::string backend_;
};

}  // namespace tern::app
