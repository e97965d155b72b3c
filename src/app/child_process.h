// A child process of this binary (`tern serve` or `tern quantize` for the benchmarks),
// its stdout and stderr in a log file. The child gets SIGTERM if this process dies, so a
// benchmark interrupted midway leaves no server behind.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace tern::app {

class ChildProcess {
 public:
  // Runs /proc/self/exe with `args` (the subcommand first). Throws tern::Error if it
  // cannot be started.
  ChildProcess(const std::vector<std::string>& args, const std::string& log_path);
  // Stops the child (stop()) if it still runs.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Whether it still runs (reaps it when it has ended).
  bool running();
  // Waits for it to end by itself; returns its exit status (128 + signal when killed).
  int wait();
  // SIGTERM, then SIGKILL after `grace_s`; returns its exit status.
  int stop(double grace_s);

  const std::string& log_path() const { return log_path_; }
  // The last `max_bytes` of the log, for error messages.
  std::string log_tail(size_t max_bytes = 4000) const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;  // once reaped
  std::string log_path_;
};

}  // namespace tern::app
