// The threads that prepare requests off the I/O threads: JSON parsing, chat templates and
// tokenization, which for an 8 MB body take real time. The queue in front of them is
// bounded, so a flood of expensive requests is refused (503) instead of making every later
// request wait behind it, and a job whose client has left is dropped from the queue at
// once, or stopped at its next check of the CancelFlag it was given while it runs.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/cancel.h"

namespace tern::server {

class PreprocessPool {
 public:
  using Job = std::function<void(const CancelFlag& cancel)>;

  // A submitted job; cancel() drops it if it has not started (releasing what it holds) and
  // sets its flag if it has. Safe from any thread, also after the job ended.
  class Ticket {
   public:
    void cancel();

   private:
    friend class PreprocessPool;
    Ticket(PreprocessPool* pool, uint64_t id) : pool_(pool), id_(id) {}
    PreprocessPool* pool_;
    uint64_t id_;
    CancelFlag flag_;
  };

  PreprocessPool(int num_threads, size_t max_queued);
  ~PreprocessPool();  // stop()
  PreprocessPool(const PreprocessPool&) = delete;
  PreprocessPool& operator=(const PreprocessPool&) = delete;

  // Queues `job`, or returns null when max_queued jobs are already waiting to start (or
  // the pool has stopped).
  std::shared_ptr<Ticket> submit(Job job);
  // Jobs waiting to start.
  size_t queued() const;
  // Drops the queued jobs and joins the threads once running jobs end.
  void stop();

 private:
  struct Entry {
    std::shared_ptr<Ticket> ticket;
    Job job;
  };
  void worker_loop();
  void drop(uint64_t id);

  const size_t max_queued_;
  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  std::deque<Entry> queue_;
  uint64_t next_id_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace tern::server
