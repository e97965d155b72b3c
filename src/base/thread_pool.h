// A fixed pool of worker threads for data-parallel loops on the CPU backend.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tern {

class ThreadPool {
 public:
  // num_threads 0 means std::thread::hardware_concurrency().
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Threads that run a parallel_for: the workers and the calling thread.
  int num_threads() const { return num_threads_.load(); }

  // Replaces the workers so the pool has num_threads threads (0: hardware_concurrency()).
  // Waits for a parallel_for in progress to finish first.
  void resize(int num_threads);

  // Calls fn(begin, end) on disjoint chunks covering [0, n) and returns when all are
  // done. The split depends only on n and grain, never on timing, so results are
  // reproducible. The calling thread takes part. Not reentrant; callers on different
  // threads (the ranks of a tensor-parallel group on the CPU backend) take turns.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // The process-wide pool used by the CPU backend (and host-side work such as
  // quantisation). It starts with default_global_size() threads; CpuBackend resizes it.
  static ThreadPool& global();
  // TERN_NUM_THREADS when set to a positive number, else hardware_concurrency().
  static int default_global_size();

 private:
  void start_workers(int num_threads);
  void stop_workers();
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  std::atomic<int> num_threads_{1};
  std::mutex caller_mutex_;  // one job at a time
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_chunk_ = 0;
  int64_t job_chunks_ = 0;
  int64_t next_chunk_ = 0;
  int64_t chunks_done_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace tern
