// The in-process communicator that lets tensor parallelism run on the CPU backend, and the
// rank threads that drive it: ranks run at once (a barrier among them completes), every
// rank gets the same bits from an all-reduce, column blocks are gathered with a short last
// block, mismatched calls are errors, and one failing rank releases the others instead
// of leaving them waiting.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "backend/communicator.h"
#include "backend/cpu/cpu_backend.h"
#include "base/rank_threads.h"
#include "test_support.h"

namespace tern {
namespace {

using testing::error_of;
using testing::expect_contains;

struct Group {
  explicit Group(int size) : threads(size) {
    for (int r = 0; r < size; ++r) backends.push_back(std::make_unique<CpuBackend>(1));
    std::vector<Backend*> ptrs;
    for (auto& b : backends) ptrs.push_back(b.get());
    comms = make_communicators(ptrs);
  }
  RankThreads threads;
  std::vector<std::unique_ptr<Backend>> backends;
  std::vector<std::unique_ptr<Communicator>> comms;
  void abort_all() {
    for (auto& c : comms) c->abort();
  }
};

TEST(CpuCommunicator, AllReduceGivesEveryRankTheSameSum) {
  for (int size : {1, 2, 3, 4}) {
    Group g(size);
    std::vector<std::vector<float>> results(static_cast<size_t>(size));
    g.threads.run([&](int rank) {
      Tensor x = host_tensor(DType::kF32, {3, 5});
      for (int64_t i = 0; i < 15; ++i) x.ptr<float>()[i] = 0.1f * float(rank + 1) + float(i);
      g.comms[size_t(rank)]->all_reduce_sum(x);
      results[size_t(rank)].assign(x.ptr<float>(), x.ptr<float>() + 15);
    });
    for (int64_t i = 0; i < 15; ++i) {
      float want = 0;
      for (int r = 0; r < size; ++r) want += 0.1f * float(r + 1) + float(i);
      EXPECT_FLOAT_EQ(results[0][size_t(i)], want) << "size " << size;
    }
    for (int r = 1; r < size; ++r) EXPECT_EQ(results[size_t(r)], results[0]) << "rank " << r << " bits";
  }
}

TEST(CpuCommunicator, AllGatherColumnsPlacesEachRanksBlockWithAShortLastBlock) {
  const int size = 3;
  Group g(size);
  const int64_t rows = 2, cols = 4, width = 10;  // the last rank's block keeps 2 of its 4 columns
  std::vector<std::vector<float>> results(size);
  g.threads.run([&](int rank) {
    Tensor local = host_tensor(DType::kF32, {rows, cols});
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) local.ptr<float>()[i * cols + j] = float(100 * rank + 10 * i + j);
    Tensor out = host_tensor(DType::kF32, {rows, width});
    g.comms[size_t(rank)]->all_gather_columns(local, out);
    results[size_t(rank)].assign(out.ptr<float>(), out.ptr<float>() + rows * width);
  });
  for (int rank = 0; rank < size; ++rank) {
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t c = 0; c < width; ++c)
        EXPECT_EQ(results[size_t(rank)][size_t(i * width + c)], float(100 * (c / cols) + 10 * i + c % cols))
            << "rank " << rank << " row " << i << " column " << c;
  }
}

TEST(CpuCommunicator, MismatchedShapesAreAnErrorOnEveryRank) {
  Group g(2);
  std::atomic<int> failures{0};
  const std::string message = error_of([&] {
    g.threads.run(
        [&](int rank) {
          Tensor x = host_tensor(DType::kF32, {1, rank == 0 ? 4 : 5});
          try {
            g.comms[size_t(rank)]->all_reduce_sum(x);
          } catch (const Error&) {
            ++failures;
            throw;
          }
        },
        [&] { g.abort_all(); });
  });
  expect_contains(message, {"cpu all_reduce_sum: rank ", "F32 [1, 4]", "F32 [1, 5]"});
  EXPECT_EQ(failures.load(), 2);
}

TEST(CpuCommunicator, AFailedRankReleasesTheOthersFromTheirCollective) {
  Group g(3);
  std::atomic<int> released{0};
  // Rank 2 fails before joining; ranks 0 and 1 would wait at the all-reduce forever.
  const std::string message = error_of([&] {
    g.threads.run(
        [&](int rank) {
          if (rank == 2) throw error("rank 2 cannot load its shard");
          Tensor x = host_tensor(DType::kF32, {4});
          try {
            g.comms[size_t(rank)]->all_reduce_sum(x);
          } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("another rank failed"), std::string::npos);
            ++released;
          }
        },
        [&] { g.abort_all(); });
  });
  EXPECT_EQ(message, "rank 2 cannot load its shard");
  EXPECT_EQ(released.load(), 2);
}

TEST(RankThreads, RunsEveryRankAtOnceAndCanBeReused) {
  RankThreads threads(4);
  for (int round = 0; round < 3; ++round) {
    std::atomic<int> arrived{0};
    std::vector<int> seen(4, 0);
    threads.run([&](int rank) {
      ++arrived;
      while (arrived.load() < 4) std::this_thread::yield();  // completes only if all run at once
      seen[size_t(rank)] = rank + 1;
    });
    EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4}));
  }
}

TEST(RankThreads, OneRankRunsOnTheCallingThread) {
  RankThreads threads(1);
  std::thread::id id;
  threads.run([&](int rank) {
    EXPECT_EQ(rank, 0);
    id = std::this_thread::get_id();
  });
  EXPECT_EQ(id, std::this_thread::get_id());
}

}  // namespace
}  // namespace tern
