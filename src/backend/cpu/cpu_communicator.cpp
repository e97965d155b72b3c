#include "backend/cpu/cpu_communicator.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "backend/cpu/op_support.h"
#include "base/error.h"

namespace tern {
namespace {

// What the ranks share: a reusable barrier and, per rank, the buffer it offers to the
// current collective.
class Group {
 public:
  explicit Group(int size) : size_(size), offered_(size_t(size)) {}

  int size() const { return size_; }

  // Publishes this rank's buffer and waits until every rank has; then any rank may read
  // any offer until the next barrier.
  void offer(int rank, const Tensor& t) {
    offered_[size_t(rank)] = t;
    barrier();
  }
  const Tensor& offered(int rank) const { return offered_[size_t(rank)]; }

  // Waits until every rank has arrived. Throws once abort() was called.
  void barrier() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (aborted_) throw aborted_error();
    const uint64_t phase = phase_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++phase_;
      cv_.notify_all();
      return;
    }
    cv_.wait(lock, [&] { return aborted_ || phase_ != phase; });
    if (phase_ == phase) throw aborted_error();
  }

  void abort() {
    std::lock_guard<std::mutex> lock(mutex_);
    aborted_ = true;
    cv_.notify_all();
  }

 private:
  static Error aborted_error() { return error("cpu communicator: another rank failed; the collective was abandoned"); }

  const int size_;
  std::vector<Tensor> offered_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int arrived_ = 0;
  uint64_t phase_ = 0;
  bool aborted_ = false;
};

void expect_same_shape(const Group& g, int rank, const char* op) {
  const Tensor& mine = g.offered(rank);
  for (int r = 0; r < g.size(); ++r) {
    const Tensor& other = g.offered(r);
    if (other.rows() != mine.rows() || other.cols() != mine.cols() || other.dtype != mine.dtype)
      throw error("cpu ", op, ": rank ", r, " offers ", dtype_name(other.dtype), " ", other.shape_str(), ", rank ",
                  rank, " ", dtype_name(mine.dtype), " ", mine.shape_str());
  }
}

class CpuCommunicator final : public Communicator {
 public:
  CpuCommunicator(std::shared_ptr<Group> group, int rank) : group_(std::move(group)), rank_(rank) {}

  int rank() const override { return rank_; }
  int size() const override { return group_->size(); }

  void all_reduce_sum(const Tensor& x) override {
    cpu::expect(x, DType::kF32, "all_reduce_sum", "x");
    group_->offer(rank_, x);
    expect_same_shape(*group_, rank_, "all_reduce_sum");
    // Every rank adds the offers in rank order, so all get the same bits.
    const int64_t n = x.numel();
    sum_.assign(size_t(n), 0.0f);
    for (int r = 0; r < size(); ++r) {
      const float* src = group_->offered(r).ptr<const float>();
      for (int64_t i = 0; i < n; ++i) sum_[size_t(i)] += src[i];
    }
    group_->barrier();  // every rank has read every offer: x may change now
    std::memcpy(x.data, sum_.data(), x.nbytes());
  }

  void all_gather_columns(const Tensor& local, const Tensor& out) override {
    cpu::expect(out, local.dtype, "all_gather_columns", "out");
    const int64_t rows = local.rows(), cols = local.cols(), width = out.cols();
    if (out.rows() != rows || width > cols * size() || width <= cols * (size() - 1))
      throw error("cpu all_gather_columns: out ", out.shape_str(), " cannot hold ", size(), " blocks of ",
                  local.shape_str());
    group_->offer(rank_, local);
    expect_same_shape(*group_, rank_, "all_gather_columns");
    const size_t elem = dtype_size(local.dtype);
    for (int r = 0; r < size(); ++r) {
      const int64_t first = r * cols, count = std::min(cols, width - first);
      const char* src = group_->offered(r).ptr<const char>();
      char* dst = out.ptr<char>();
      for (int64_t i = 0; i < rows; ++i)
        std::memcpy(dst + size_t(i * width + first) * elem, src + size_t(i * cols) * elem, size_t(count) * elem);
    }
    group_->barrier();  // every rank has read every block: local may change now
  }

  void abort() override { group_->abort(); }

 private:
  std::shared_ptr<Group> group_;
  int rank_;
  std::vector<float> sum_;
};

}  // namespace

std::vector<std::unique_ptr<Communicator>> make_cpu_communicators(int size) {
  TERN_CHECK(size >= 1, "a communicator group of ", size);
  auto group = std::make_shared<Group>(size);
  std::vector<std::unique_ptr<Communicator>> comms;
  for (int rank = 0; rank < size; ++rank) comms.push_back(std::make_unique<CpuCommunicator>(group, rank));
  return comms;
}

}  // namespace tern
