// The CPU copy_blocks op, the reference the CUDA kernel is checked against: whole blocks of
// every layer's K and V are copied, nothing else changes, and a copy list that breaks the
// contract (an id outside the cache, a destination written twice or also read) is refused
// before anything is written.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "backend/backend.h"
#include "base/error.h"

namespace tern {
namespace {

constexpr int64_t kBlocks = 5, kBlockSize = 2, kHeads = 1, kDim = 3;
constexpr int64_t kBlockValues = kBlockSize * kHeads * kDim;

class CpuCopyBlocks : public ::testing::Test {
 protected:
  CpuCopyBlocks() {
    // Every value distinct: layer, K or V, block and offset can be read back from it.
    float next = 0;
    for (int l = 0; l < 2; ++l) {
      KvCacheLayer layer{backend_->alloc(DType::kF32, {kBlocks, kBlockSize, kHeads, kDim}),
                         backend_->alloc(DType::kF32, {kBlocks, kBlockSize, kHeads, kDim})};
      for (const Tensor* t : {&layer.k, &layer.v}) {
        std::iota(t->ptr<float>(), t->ptr<float>() + t->numel(), next);
        next += float(t->numel());
      }
      layers_.push_back(layer);
    }
    before_ = snapshot();
  }

  std::vector<std::vector<float>> snapshot() const {
    std::vector<std::vector<float>> all;
    for (const KvCacheLayer& layer : layers_)
      for (const Tensor* t : {&layer.k, &layer.v}) all.emplace_back(t->ptr<float>(), t->ptr<float>() + t->numel());
    return all;
  }

  void copy(std::vector<int32_t> pairs) {
    Tensor t = backend_->alloc(DType::kI32, {int64_t(pairs.size() / 2), 2});
    std::copy(pairs.begin(), pairs.end(), t.ptr<int32_t>());
    backend_->copy_blocks(layers_, t);
  }

  static std::vector<float> block(const std::vector<float>& cache, int b) {
    return {cache.begin() + b * kBlockValues, cache.begin() + (b + 1) * kBlockValues};
  }

  std::unique_ptr<Backend> backend_ = make_backend("cpu");
  std::vector<KvCacheLayer> layers_;
  std::vector<std::vector<float>> before_;
};

TEST_F(CpuCopyBlocks, CopiesWholeBlocksOfEveryLayerAndNothingElse) {
  copy({1, 3, 1, 4, 0, 2});  // block 1 to two destinations, block 0 to one
  const std::vector<std::vector<float>> after = snapshot();
  for (size_t c = 0; c < after.size(); ++c) {
    SCOPED_TRACE(c);
    EXPECT_EQ(block(after[c], 0), block(before_[c], 0));
    EXPECT_EQ(block(after[c], 1), block(before_[c], 1));
    EXPECT_EQ(block(after[c], 2), block(before_[c], 0));
    EXPECT_EQ(block(after[c], 3), block(before_[c], 1));
    EXPECT_EQ(block(after[c], 4), block(before_[c], 1));
  }
}

TEST_F(CpuCopyBlocks, AnEmptyListDoesNothing) {
  copy({});
  EXPECT_EQ(snapshot(), before_);
}

TEST_F(CpuCopyBlocks, RefusesABrokenCopyListBeforeWritingAnything) {
  EXPECT_THROW(copy({0, 5}), Error) << "destination outside the cache";
  EXPECT_THROW(copy({-1, 2}), Error) << "source outside the cache";
  EXPECT_THROW(copy({0, 2, 1, 2}), Error) << "a destination written twice";
  EXPECT_THROW(copy({0, 2, 2, 3}), Error) << "a destination that is also a source";
  EXPECT_THROW(copy({0, 0}), Error) << "a block copied onto itself";
  EXPECT_EQ(snapshot(), before_);
}

TEST_F(CpuCopyBlocks, RefusesLayersOfDifferentShapes) {
  layers_[1].v = backend_->alloc(DType::kF32, {kBlocks, kBlockSize, kHeads, kDim + 1});
  EXPECT_THROW(copy({0, 2}), Error);
}

}  // namespace
}  // namespace tern
