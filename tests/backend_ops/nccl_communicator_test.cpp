// The NCCL communicator of tensor parallelism. On any machine with a GPU: a group of one
// rank (NCCL loads, initialises with NVLink multicast off, and its collectives run and
// capture into a CUDA graph on the backend's stream). With two or more GPUs: every rank
// gets the same BF16 sum from an all-reduce, the column gather assembles uneven blocks,
// and collectives captured in each rank's graph replay with new data. Tests that need
// more GPUs than the machine has are skipped.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "backend/communicator.h"
#include "backend/cuda/cuda_backend.h"
#include "base/rank_threads.h"
#include "op_test_support.h"

namespace tern::test {
namespace {

int gpu_count() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

struct NcclGroup {
  explicit NcclGroup(int size) : threads(size) {
    std::vector<Backend*> ptrs;
    for (int r = 0; r < size; ++r) {
      backends.push_back(make_backend("cuda", {.device_index = r}));
      ptrs.push_back(backends.back().get());
    }
    comms = make_communicators(ptrs);
  }
  RankThreads threads;
  std::vector<std::unique_ptr<Backend>> backends;
  std::vector<std::unique_ptr<Communicator>> comms;
};

// rank r's values: (r + 1) * base, rounded to BF16.
std::vector<float> rank_values(const std::vector<float>& base, int rank) {
  std::vector<float> v(base.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(rank + 1) * base[i];
  return round_bf16(v);
}

void check_all_reduce(int size) {
  NcclGroup g(size);
  EXPECT_STREQ(std::getenv("NCCL_NVLS_ENABLE"), "0") << "NVLink multicast must be off";
  std::mt19937 rng = rng_for_test();
  const std::vector<float> base = random_bf16(3 * 1000, rng);
  std::vector<std::vector<float>> got(static_cast<size_t>(size));
  g.threads.run([&](int r) {
    Backend& be = *g.backends[size_t(r)];
    Tensor mine = be.upload(host_f32(rank_values(base, r), {3, 1000}), DType::kBF16);
    g.comms[size_t(r)]->all_reduce_sum(mine);
    be.synchronize();
    got[size_t(r)] = download(be, mine);
  });
  std::vector<float> want(base.size(), 0.0f);
  for (int r = 0; r < size; ++r) {
    const std::vector<float> v = rank_values(base, r);
    for (size_t i = 0; i < want.size(); ++i) want[i] += v[i];
  }
  expect_close(got[0], want, 1e-2, "all_reduce_sum over " + std::to_string(size) + " ranks");
  for (int r = 1; r < size; ++r) EXPECT_EQ(got[size_t(r)], got[0]) << "rank " << r << " differs from rank 0";
}

void check_gather_in_graph(int size) {
  NcclGroup g(size);
  const int64_t rows = 3, cols = 37, width = cols * size - 5;  // the last block is cut short
  std::vector<std::vector<float>> got(static_cast<size_t>(size));
  g.threads.run([&](int r) {
    Backend& be = *g.backends[size_t(r)];
    Tensor local = be.alloc(DType::kF32, {rows, cols});
    Tensor out = be.alloc(DType::kF32, {rows, width});
    std::vector<float> values(size_t(rows * cols));
    auto fill = [&](float offset) {
      for (int64_t i = 0; i < rows * cols; ++i) values[size_t(i)] = offset + float(1000 * r + i);
      be.copy_from_host(local, values.data());
    };
    fill(0.0f);
    g.comms[size_t(r)]->all_gather_columns(local, out);  // warm-up: scratch and connections
    be.synchronize();
    std::unique_ptr<CapturedGraph> graph = be.capture([&] { g.comms[size_t(r)]->all_gather_columns(local, out); });
    ASSERT_TRUE(graph);
    fill(0.5f);  // the replay must read the new contents
    graph->replay();
    be.synchronize();
    got[size_t(r)] = download(be, out);
  });
  for (int r = 0; r < size; ++r)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t c = 0; c < width; ++c)
        ASSERT_EQ(got[size_t(r)][size_t(i * width + c)], 0.5f + float(1000 * (c / cols) + i * cols + c % cols))
            << "rank " << r << " row " << i << " column " << c;
}

TEST(NcclCommunicator, OneRankGroupRunsAndCapturesIntoAGraph) {
  check_all_reduce(1);
  check_gather_in_graph(1);
}

TEST(NcclCommunicator, AllReduceOverEveryGpu) {
  if (gpu_count() < 2) GTEST_SKIP() << "needs 2 GPUs, found " << gpu_count();
  check_all_reduce(2);
  if (gpu_count() >= 4) check_all_reduce(4);
}

TEST(NcclCommunicator, GatherCapturedInEachRanksGraph) {
  if (gpu_count() < 2) GTEST_SKIP() << "needs 2 GPUs, found " << gpu_count();
  check_gather_in_graph(2);
  if (gpu_count() >= 4) check_gather_in_graph(4);
}

}  // namespace
}  // namespace tern::test
