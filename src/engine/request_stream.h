// The thread-safe channel from the engine thread to one caller. The engine pushes deltas;
// the caller takes them in order from any one thread, blocking or polling, or registers a
// notifier to be told when one is ready (an event loop posts a read to itself).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "engine/request_output.h"

namespace tern {

class RequestStream {
 public:
  // Engine thread. The delta with `finished` set is the last one.
  void push(RequestOutput output);
  // Blocks until a delta is ready; nullopt once the finished delta has been taken.
  std::optional<RequestOutput> next();
  // A ready delta or nullopt at once.
  std::optional<RequestOutput> try_next();
  // `notify` runs on the engine thread after each push (keep it short, never block); at
  // once if deltas are already waiting.
  void set_notifier(std::function<void()> notify);

 private:
  std::optional<RequestOutput> pop_locked();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<RequestOutput> queue_;
  bool finished_taken_ = false;
  std::function<void()> notify_;
};

class RequestHandle {
 public:
  RequestHandle(uint64_t request_id, std::shared_ptr<RequestStream> stream)
      : request_id_(request_id), stream_(std::move(stream)) {}

  uint64_t request_id() const { return request_id_; }
  std::optional<RequestOutput> next() { return stream_->next(); }
  std::optional<RequestOutput> try_next() { return stream_->try_next(); }
  void set_notifier(std::function<void()> notify) { stream_->set_notifier(std::move(notify)); }

 private:
  uint64_t request_id_;
  std::shared_ptr<RequestStream> stream_;
};

}  // namespace tern
