#include "base/rank_threads.h"

#include "base/error.h"

namespace tern {

RankThreads::RankThreads(int size) : size_(size) {
  TERN_CHECK(size >= 1, "a rank group of ", size);
  for (int rank = 1; rank < size; ++rank) workers_.emplace_back([this, rank] { worker_loop(rank); });
}

RankThreads::~RankThreads() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void RankThreads::run(const std::function<void(int)>& job, const std::function<void()>& on_failure) {
  if (size_ == 1) {
    job(0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &job;
    on_failure_ = &on_failure;
    pending_ = size_;
    first_failure_ = nullptr;
    ++generation_;
  }
  work_cv_.notify_all();
  std::exception_ptr failure;
  try {
    job(0);
  } catch (...) {
    failure = std::current_exception();
  }
  finish(failure);
  std::unique_lock<std::mutex> lock(mutex_);
  done_cv_.wait(lock, [&] { return pending_ == 0; });
  job_ = nullptr;
  on_failure_ = nullptr;
  if (first_failure_) std::rethrow_exception(first_failure_);
}

void RankThreads::finish(std::exception_ptr failure) {
  bool first = false;
  const std::function<void()>* on_failure = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failure && !first_failure_) {
      first_failure_ = failure;
      first = true;
      on_failure = on_failure_;
    }
  }
  // Outside the lock: on_failure may wake ranks that then finish themselves.
  if (first && on_failure && *on_failure) (*on_failure)();
  std::lock_guard<std::mutex> lock(mutex_);
  if (--pending_ == 0) done_cv_.notify_all();
}

void RankThreads::worker_loop(int rank) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int)>* job = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
    }
    std::exception_ptr failure;
    try {
      (*job)(rank);
    } catch (...) {
      failure = std::current_exception();
    }
    finish(failure);
  }
}

}  // namespace tern
