// The CPU backend's worker threads: the number it is given (tern's --threads) sizes the
// process-wide pool its ops run on; 0 falls back to TERN_NUM_THREADS, then to all cores;
// and a resized pool still runs every chunk of a loop exactly once.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "base/thread_pool.h"

namespace tern {
namespace {

// Sets TERN_NUM_THREADS for one test and restores it afterwards.
class NumThreadsEnv {
 public:
  explicit NumThreadsEnv(const char* value) {
    if (const char* old = getenv("TERN_NUM_THREADS")) old_ = old, had_ = true;
    value ? setenv("TERN_NUM_THREADS", value, 1) : unsetenv("TERN_NUM_THREADS");
  }
  ~NumThreadsEnv() { had_ ? setenv("TERN_NUM_THREADS", old_.c_str(), 1) : unsetenv("TERN_NUM_THREADS"); }

 private:
  std::string old_;
  bool had_ = false;
};

TEST(CpuBackendThreads, TheGivenCountSizesThePoolTheOpsRunOn) {
  for (int n : {3, 1, 5}) {
    CpuBackend backend(n);
    EXPECT_EQ(backend.num_threads(), n);
    EXPECT_EQ(ThreadPool::global().num_threads(), n);
  }
}

TEST(CpuBackendThreads, ZeroMeansTernNumThreadsThenAllCores) {
  {
    NumThreadsEnv env("2");
    EXPECT_EQ(CpuBackend(0).num_threads(), 2);
    EXPECT_EQ(CpuBackend(4).num_threads(), 4) << "the given count wins over the environment";
  }
  NumThreadsEnv env(nullptr);
  EXPECT_EQ(CpuBackend(0).num_threads(), int(std::max(1u, std::thread::hardware_concurrency())));
}

TEST(CpuBackendThreads, AResizedPoolRunsEveryChunkOnceOnAtMostItsThreads) {
  for (int n : {4, 1, 2}) {
    ThreadPool::global().resize(n);
    std::vector<std::atomic<int>> hits(1000);
    std::mutex mutex;
    std::set<std::thread::id> threads;
    ThreadPool::global().parallel_for(int64_t(hits.size()), 7, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) ++hits[size_t(i)];
      std::lock_guard<std::mutex> lock(mutex);
      threads.insert(std::this_thread::get_id());
    });
    for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i], 1) << "pool of " << n << ", index " << i;
    EXPECT_LE(int(threads.size()), n);
  }
}

}  // namespace
}  // namespace tern
