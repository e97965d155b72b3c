// Asking work running on another thread to stop: the owner sets a CancelFlag, the work
// polls it at points where stopping is cheap and throws Cancelled.
#pragma once

#include <atomic>
#include <exception>

namespace tern {

class Cancelled : public std::exception {
 public:
  const char* what() const noexcept override { return "cancelled"; }
};

class CancelFlag {
 public:
  void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  void throw_if_cancelled() const {
    if (cancelled()) throw Cancelled();
  }

 private:
  std::atomic<bool> cancelled_{false};
};

}  // namespace tern
