// A decode step of every op, captured into a CUDA graph on the backend's stream: capture
// succeeds (no op allocates, waits or copies from pageable memory), and replaying the
// graph gives the same bits as running the ops directly.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "backend/cuda/cuda_backend.h"
#include "op_test_support.h"

namespace tern::test {
namespace {

constexpr int kHidden = 256, kHq = 4, kHkv = 2, kDim = 64, kInter = 512, kVocab = 1000, kBlock = 16;

#define EXPECT_CUDA_OK(call) ASSERT_EQ((call), cudaSuccess) << #call

TEST(CudaGraph, ADecodeStepCapturesAndReplaysBitIdentically) {
  auto& be = dynamic_cast<CudaBackend&>(cuda());
  std::mt19937 rng = rng_for_test();
  const std::vector<int32_t> seq_lens = {100, 513, 3000, 7};
  const int seqs = int(seq_lens.size()), max_blocks = 3000 / kBlock + 1, num_blocks = seqs * max_blocks;
  auto weight = [&](int rows, int cols) { return on_cuda(random_bf16(size_t(rows) * cols, rng, 0.1f), {rows, cols}); };
  auto vec = [&](int n) { return on_cuda(random_bf16(size_t(n), rng), {n}); };

  // Weights and inputs.
  Tensor table = weight(kVocab, kHidden), norm1 = vec(kHidden), norm2 = vec(kHidden), norm3 = vec(kHidden);
  LinearWeight qkv_w{weight((kHq + 2 * kHkv) * kDim, kHidden), vec((kHq + 2 * kHkv) * kDim)};
  LinearWeight o_w{weight(kHidden, kHq * kDim), {}}, gate_up_w{weight(2 * kInter, kHidden), {}};
  LinearWeight down_w{weight(kHidden, kInter), {}}, lm_head{weight(kVocab, kHidden), {}};
  std::vector<float> inv_freq(kDim / 2);
  for (int i = 0; i < kDim / 2; ++i) inv_freq[i] = float(std::pow(1e4, -2.0 * i / kDim));
  const RopeParams rope{on_cuda(inv_freq, {kDim / 2}, DType::kF32), 1.0f};
  const AttentionShape shape{.num_q_heads = kHq, .num_kv_heads = kHkv, .head_dim = kDim, .scale = 0.125f};
  const std::initializer_list<int64_t> cache_shape{num_blocks, kBlock, kHkv, kDim};
  KvCacheLayer cache{on_cuda(random_bf16(size_t(num_blocks) * kBlock * kHkv * kDim, rng), cache_shape),
                     on_cuda(random_bf16(size_t(num_blocks) * kBlock * kHkv * kDim, rng), cache_shape)};
  std::vector<int32_t> ids, positions, slots, starts{0}, tables(size_t(seqs) * max_blocks);
  for (int s = 0; s < seqs; ++s) {
    for (int b = 0; b < max_blocks; ++b) tables[size_t(s) * max_blocks + b] = s * max_blocks + b;
    ids.push_back(int32_t(rng() % kVocab));
    positions.push_back(seq_lens[s] - 1);
    slots.push_back((s * max_blocks) * kBlock + seq_lens[s] - 1);
    starts.push_back(s + 1);
  }
  AttentionMetadata meta{.num_seqs = seqs,
                         .max_query_len = 1,
                         .max_seq_len = 3000,
                         .query_start = i32_on(be, starts, {seqs + 1}),
                         .seq_lens = i32_on(be, seq_lens, {seqs}),
                         .block_tables = i32_on(be, tables, {seqs, max_blocks})};
  Tensor ids_t = i32_on(be, ids, {seqs}), pos_t = i32_on(be, positions, {seqs}), slot_t = i32_on(be, slots, {seqs});
  Tensor last_rows = i32_on(be, {3, 1}, {2});

  // Activations.
  const DType a = DType::kBF16;
  Tensor residual = be.alloc(a, {seqs, kHidden}), normed = be.alloc(a, {seqs, kHidden});
  Tensor qkv = be.alloc(a, {seqs, (kHq + 2 * kHkv) * kDim}), q = be.alloc(a, {seqs, kHq * kDim});
  Tensor attn = be.alloc(a, {seqs, kHq * kDim}), hidden = be.alloc(a, {seqs, kHidden});
  Tensor gate_up = be.alloc(a, {seqs, 2 * kInter}), act = be.alloc(a, {seqs, kInter});
  Tensor last = be.alloc(a, {2, kHidden}), logits = be.alloc(DType::kF32, {2, kVocab});

  auto step = [&] {
    be.embedding(ids_t, table, residual);
    be.rms_norm(residual, norm1, 1e-6f, normed);
    be.linear(normed, qkv_w, qkv);
    be.rope_kv_write(qkv, pos_t, slot_t, rope, shape, cache, q);
    be.paged_attention(q, cache, meta, shape, attn);
    be.linear(attn, o_w, hidden);
    be.add_rms_norm(residual, hidden, norm2, 1e-6f, normed);
    be.linear(normed, gate_up_w, gate_up);
    be.act_mul(gate_up, act, Activation::kSilu);
    be.linear(act, down_w, hidden);
    be.add_rms_norm(residual, hidden, norm3, 1e-6f, normed);
    be.gather_rows(normed, last_rows, last);
    be.linear(last, lm_head, logits);
  };

  step();  // direct run: also builds GEMM plans and grows the attention workspace
  const std::vector<uint8_t> direct = download_bytes(be, logits);
  for (size_t i = 0; i < direct.size(); i += 4) {
    float f;
    std::memcpy(&f, direct.data() + i, 4);
    ASSERT_TRUE(std::isfinite(f)) << "logit " << i / 4;
  }

  cudaGraph_t graph = nullptr;
  EXPECT_CUDA_OK(cudaStreamBeginCapture(be.stream(), cudaStreamCaptureModeGlobal));
  step();
  EXPECT_CUDA_OK(cudaStreamEndCapture(be.stream(), &graph));
  cudaGraphExec_t exec = nullptr;
  EXPECT_CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));

  const std::vector<uint8_t> poison(direct.size(), 0xFF);
  be.copy_from_host(logits, poison.data());
  EXPECT_CUDA_OK(cudaGraphLaunch(exec, be.stream()));
  be.synchronize();
  EXPECT_EQ(download_bytes(be, logits), direct) << "graph replay differs from the direct run";
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}

}  // namespace
}  // namespace tern::test
