// One thread per rank of a tensor-parallel group, each running the same job with its rank
// in lockstep: the engine thread hands a step to every rank and waits for all of them.
// Rank 0 runs on the calling thread, so a group of one adds no thread and no hand-off.
// Rank r > 0 always runs on the same thread, so per-thread state (the CUDA device, a
// stream capture) stays with its rank.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tern {

class RankThreads {
 public:
  // Starts size - 1 threads. size >= 1.
  explicit RankThreads(int size);
  ~RankThreads();
  RankThreads(const RankThreads&) = delete;
  RankThreads& operator=(const RankThreads&) = delete;

  int size() const { return size_; }

  // Runs job(rank) for every rank at once and returns when all have returned. When a job
  // throws, on_failure runs once, at once, on the failing rank's thread (to release ranks
  // blocked in a collective that the failed rank will never join); after every rank has
  // returned, the first exception is rethrown. Not reentrant: one run at a time.
  void run(const std::function<void(int rank)>& job, const std::function<void()>& on_failure = {});

 private:
  void worker_loop(int rank);
  void finish(std::exception_ptr failure);

  int size_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable work_cv_, done_cv_;
  const std::function<void(int)>* job_ = nullptr;
  const std::function<void()>* on_failure_ = nullptr;
  uint64_t generation_ = 0;
  int pending_ = 0;
  std::exception_ptr first_failure_;
  bool stop_ = false;
};

}  // namespace tern
