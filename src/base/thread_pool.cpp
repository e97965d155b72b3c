#include "base/thread_pool.h"

#include <algorithm>
#include <cstdlib>

namespace tern {

namespace {

int resolved(int num_threads) {
  return num_threads > 0 ? num_threads : int(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) { start_workers(resolved(num_threads)); }

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::start_workers(int num_threads) {
  for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  num_threads_ = num_threads;
}

void ThreadPool::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  std::lock_guard<std::mutex> lock(mutex_);
  stop_ = false;
}

void ThreadPool::resize(int num_threads) {
  num_threads = resolved(num_threads);
  std::lock_guard<std::mutex> caller(caller_mutex_);  // no job is running while the workers change
  if (num_threads == num_threads_) return;
  stop_workers();
  start_workers(num_threads);
}

int ThreadPool::default_global_size() {
  const char* env = std::getenv("TERN_NUM_THREADS");
  return resolved(env ? std::atoi(env) : 0);
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool(default_global_size());
  return pool;
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, int64_t(num_threads()) * 4);
  if (chunks <= 1 || num_threads() == 1) {
    fn(0, n);
    return;
  }
  int64_t chunk = (n + chunks - 1) / chunks;
  chunks = (n + chunk - 1) / chunk;
  // A resize between the size read above and this lock only changes who runs the chunks:
  // the calling thread takes any that no worker does.
  std::lock_guard<std::mutex> caller(caller_mutex_);
  std::unique_lock<std::mutex> lock(mutex_);
  job_ = &fn;
  job_n_ = n;
  job_chunk_ = chunk;
  job_chunks_ = chunks;
  next_chunk_ = 0;
  chunks_done_ = 0;
  ++generation_;
  work_cv_.notify_all();
  while (next_chunk_ < job_chunks_) {
    int64_t c = next_chunk_++;
    lock.unlock();
    fn(c * chunk, std::min(n, (c + 1) * chunk));
    lock.lock();
    ++chunks_done_;
  }
  done_cv_.wait(lock, [&] { return chunks_done_ == job_chunks_; });
  job_ = nullptr;
}

void ThreadPool::worker_loop(int) {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stop_ || (generation_ != seen && job_ && next_chunk_ < job_chunks_); });
    if (stop_) return;
    seen = generation_;
    while (job_ && next_chunk_ < job_chunks_) {
      int64_t c = next_chunk_++;
      const auto* fn = job_;
      int64_t n = job_n_, chunk = job_chunk_;
      lock.unlock();
      (*fn)(c * chunk, std::min(n, (c + 1) * chunk));
      lock.lock();
      if (++chunks_done_ == job_chunks_) done_cv_.notify_all();
    }
  }
}

}  // namespace tern
