// The CPU paged_attention op against attention written from its definition: each query at
// context position p weights the keys at positions [0, p], or with a sliding window W only
// (p - W, p], by softmax(q.k * scale), read here from plain contiguous arrays while the op
// reads them through block tables scattered over the cache. Windows smaller than a block,
// spanning blocks and longer than the context; prefill, chunked prefill, decode and a batch
// of all three at once. An FP8 cache reads back exactly its dequantised values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "tensor/dtype.h"
#include "base/error.h"

namespace tern {
namespace {

constexpr int kHq = 4, kHkv = 2, kDim = 8, kBlockSize = 4;
const float kScale = 1.0f / std::sqrt(float(kDim));

struct Seq {
  int seq_len, q_len;  // context tokens (cached prefix + new) and new (query) tokens
};

// One batch: per sequence, its context's K and V rows [seq_len, Hkv * D] and its queries'
// rows [q_len, Hq * D]; and the same K and V in a paged cache of shuffled blocks.
struct Batch {
  std::vector<Seq> seqs;
  std::vector<std::vector<float>> k, v, q;
  int max_blocks = 0, num_blocks = 0;
  std::vector<int32_t> query_start{0}, seq_lens, tables;
  std::vector<float> k_cache, v_cache, q_rows;

  explicit Batch(std::vector<Seq> sequences, uint32_t seed = 1) : seqs(std::move(sequences)) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    const auto random = [&](size_t n) {
      std::vector<float> out(n);
      for (float& x : out) x = value(rng);
      return out;
    };
    for (const Seq& s : seqs) {
      k.push_back(random(size_t(s.seq_len) * kHkv * kDim));
      v.push_back(random(size_t(s.seq_len) * kHkv * kDim));
      q.push_back(random(size_t(s.q_len) * kHq * kDim));
      const int blocks = (s.seq_len + kBlockSize - 1) / kBlockSize;
      max_blocks = std::max(max_blocks, blocks);
      num_blocks += blocks;
      query_start.push_back(query_start.back() + s.q_len);
      seq_lens.push_back(s.seq_len);
      q_rows.insert(q_rows.end(), q.back().begin(), q.back().end());
    }
    std::vector<int32_t> ids(static_cast<size_t>(num_blocks));
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    tables.assign(seqs.size() * size_t(max_blocks), 0);
    const size_t row = size_t(kHkv) * kDim;
    k_cache.assign(size_t(num_blocks) * kBlockSize * row, NAN);  // unwritten slots poison any read
    v_cache = k_cache;
    int next = 0;
    for (size_t s = 0; s < seqs.size(); ++s) {
      for (int b = 0; b * kBlockSize < seqs[s].seq_len; ++b) tables[s * max_blocks + b] = ids[size_t(next++)];
      for (int pos = 0; pos < seqs[s].seq_len; ++pos) {
        const size_t slot = size_t(tables[s * max_blocks + pos / kBlockSize]) * kBlockSize + pos % kBlockSize;
        std::copy_n(k[s].begin() + pos * row, row, k_cache.begin() + slot * row);
        std::copy_n(v[s].begin() + pos * row, row, v_cache.begin() + slot * row);
      }
    }
  }

  // The cache rounded through e4m3 with these scales, as an FP8 cache reads it back.
  void round_cache_through_fp8(float k_scale, float v_scale) {
    for (float& x : k_cache) x = e4m3_to_f32(f32_to_e4m3(x / k_scale)) * k_scale;
    for (float& x : v_cache) x = e4m3_to_f32(f32_to_e4m3(x / v_scale)) * v_scale;
  }

  // The op's output [tokens, Hq * D]; with scales > 0, over an FP8 copy of the cache.
  std::vector<float> run(int window, float k_scale = 0, float v_scale = 0) {
    CpuBackend cpu;
    const auto view = [](auto& values, DType dtype, std::initializer_list<int64_t> shape) {
      return make_view(values.data(), dtype, Device::kCpu, shape);
    };
    const int tokens = query_start.back(), n = int(seqs.size());
    KvCacheLayer cache{view(k_cache, DType::kF32, {num_blocks, kBlockSize, kHkv, kDim}),
                       view(v_cache, DType::kF32, {num_blocks, kBlockSize, kHkv, kDim})};
    std::vector<uint8_t> k8, v8;
    if (k_scale > 0) {
      for (float x : k_cache) k8.push_back(f32_to_e4m3(x / k_scale));
      for (float x : v_cache) v8.push_back(f32_to_e4m3(x / v_scale));
      cache = KvCacheLayer{.k = view(k8, DType::kF8E4M3, {num_blocks, kBlockSize, kHkv, kDim}),
                           .v = view(v8, DType::kF8E4M3, {num_blocks, kBlockSize, kHkv, kDim}),
                           .k_scale = k_scale,
                           .v_scale = v_scale};
    }
    AttentionMetadata meta{.num_seqs = n,
                           .max_query_len = 0,
                           .max_seq_len = 0,
                           .query_start = view(query_start, DType::kI32, {n + 1}),
                           .seq_lens = view(seq_lens, DType::kI32, {n}),
                           .block_tables = view(tables, DType::kI32, {n, max_blocks})};
    for (const Seq& s : seqs) {
      meta.max_query_len = std::max(meta.max_query_len, s.q_len);
      meta.max_seq_len = std::max(meta.max_seq_len, s.seq_len);
    }
    std::vector<float> out(size_t(tokens) * kHq * kDim, NAN);
    const AttentionShape shape{
        .num_q_heads = kHq, .num_kv_heads = kHkv, .head_dim = kDim, .scale = kScale, .sliding_window = window};
    cpu.paged_attention(view(q_rows, DType::kF32, {tokens, kHq * kDim}), cache, meta, shape,
                        view(out, DType::kF32, {tokens, kHq * kDim}));
    return out;
  }

  // The definition, in double precision over the contiguous arrays.
  std::vector<float> expected(int window) const {
    std::vector<float> out;
    for (size_t s = 0; s < seqs.size(); ++s) {
      for (int i = 0; i < seqs[s].q_len; ++i) {
        const int pos = seqs[s].seq_len - seqs[s].q_len + i;
        const int first = window > 0 ? std::max(0, pos - window + 1) : 0;
        for (int h = 0; h < kHq; ++h) {
          const int kvh = h / (kHq / kHkv);
          const float* qh = &q[s][(size_t(i) * kHq + h) * kDim];
          std::vector<double> weight;
          for (int j = first; j <= pos; ++j) {
            const float* kj = &k[s][(size_t(j) * kHkv + kvh) * kDim];
            double dot = 0.0;
            for (int e = 0; e < kDim; ++e) dot += double(qh[e]) * kj[e];
            weight.push_back(dot * kScale);
          }
          const double top = *std::max_element(weight.begin(), weight.end());
          double sum = 0.0;
          for (double& w : weight) sum += (w = std::exp(w - top));
          for (int e = 0; e < kDim; ++e) {
            double acc = 0.0;
            for (int j = first; j <= pos; ++j)
              acc += weight[size_t(j - first)] * v[s][(size_t(j) * kHkv + kvh) * kDim + e];
            out.push_back(float(acc / sum));
          }
        }
      }
    }
    return out;
  }
};

void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, float tolerance,
                     const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tolerance) << what << ": element " << i;
}

const std::vector<Seq> kPrefill = {{13, 13}, {3, 3}};
const std::vector<Seq> kChunked = {{30, 7}, {9, 2}};
const std::vector<Seq> kDecode = {{25, 1}, {2, 1}, {1, 1}, {8, 1}};
const std::vector<Seq> kMixed = {{17, 17}, {30, 7}, {25, 1}, {1, 1}};

TEST(CpuPagedAttention, SlidingWindowsMatchTheDefinition) {
  for (const auto& [name, seqs] : {std::pair{"prefill", kPrefill}, std::pair{"chunked prefill", kChunked},
                                   std::pair{"decode", kDecode}, std::pair{"mixed batch", kMixed}}) {
    Batch batch(seqs);
    // 0: none; below, at and above the block size of 4; longer than every context.
    for (int window : {0, 1, 3, 4, 6, 9, 1000}) {
      SCOPED_TRACE(std::string(name) + ", window " + std::to_string(window));
      expect_near_all(batch.run(window), batch.expected(window), 1e-5f, name);
    }
  }
}

TEST(CpuPagedAttention, AWindowOfOneGivesEachQueryItsOwnValueRow) {
  Batch batch(kMixed);
  const std::vector<float> out = batch.run(1);
  size_t row = 0;
  for (size_t s = 0; s < batch.seqs.size(); ++s) {
    for (int i = 0; i < batch.seqs[s].q_len; ++i, ++row) {
      const int pos = batch.seqs[s].seq_len - batch.seqs[s].q_len + i;
      for (int h = 0; h < kHq; ++h) {
        const float* want = &batch.v[s][(size_t(pos) * kHkv + h / (kHq / kHkv)) * kDim];
        for (int e = 0; e < kDim; ++e) ASSERT_EQ(out[(row * kHq + h) * kDim + e], want[e]) << "sequence " << s;
      }
    }
  }
}

TEST(CpuPagedAttention, AWindowAsLongAsTheContextIsFullCausalAttention) {
  Batch batch(kMixed);
  EXPECT_EQ(batch.run(30), batch.run(0));
  EXPECT_NE(batch.run(29), batch.run(0)) << "the 30-token context's last queries lose key 0";
}

TEST(CpuPagedAttention, Fp8CacheReadsBackItsDequantisedValues) {
  for (const auto& seqs : {kPrefill, kDecode, kMixed}) {
    Batch fp8(seqs), rounded(seqs);
    rounded.round_cache_through_fp8(0.01f, 0.003f);
    const std::vector<float> got = fp8.run(0, 0.01f, 0.003f), want = rounded.run(0);
    ASSERT_EQ(got, want);
    // The rounding is FP8's: within a few percent of the F32 cache's result.
    expect_near_all(got, fp8.run(0), 0.05f, "fp8 vs f32 cache");
  }
}

TEST(CpuPagedAttention, RejectsANegativeWindow) { EXPECT_THROW(Batch(kDecode).run(-1), Error); }

}  // namespace
}  // namespace tern
