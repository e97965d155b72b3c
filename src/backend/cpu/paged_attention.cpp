#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/kv_fp8.h"
#include "backend/cpu/op_support.h"
#include "base/thread_pool.h"

namespace tern {

void CpuBackend::paged_attention(const Tensor& q, const KvCacheLayer& cache, const AttentionMetadata& meta,
                                 const AttentionShape& shape, const Tensor& out) {
  cpu::expect(q, DType::kF32, "paged_attention", "q");
  cpu::expect(out, DType::kF32, "paged_attention", "out");
  const bool fp8 = cache.k.dtype == DType::kF8E4M3;
  cpu::expect(cache.k, fp8 ? DType::kF8E4M3 : DType::kF32, "paged_attention", "k cache");
  cpu::expect(cache.v, cache.k.dtype, "paged_attention", "v cache");
  cpu::expect(meta.query_start, DType::kI32, "paged_attention", "query_start");
  cpu::expect(meta.seq_lens, DType::kI32, "paged_attention", "seq_lens");
  cpu::expect(meta.block_tables, DType::kI32, "paged_attention", "block_tables");
  const int hq = shape.num_q_heads, hkv = shape.num_kv_heads, d = shape.head_dim;
  TERN_CHECK(hkv > 0 && hq % hkv == 0, "paged_attention heads ", hq, "/", hkv);
  TERN_CHECK(shape.sliding_window >= 0, "paged_attention: sliding window ", shape.sliding_window);
  const int group = hq / hkv;
  const int64_t block_size = cache.block_size(), max_blocks = meta.block_tables.cols();
  const int32_t* query_start = meta.query_start.ptr<const int32_t>();
  const int32_t* seq_lens = meta.seq_lens.ptr<const int32_t>();
  const int32_t* tables = meta.block_tables.ptr<const int32_t>();
  const int64_t kv_row = int64_t(hkv) * d;
  // Head kvh of a cache row as F32: in place, or dequantised into `buffer` (FP8).
  const auto kv_head = [&](const Tensor& cache_part, float scale, int64_t slot, int kvh, float* buffer) {
    const int64_t offset = slot * kv_row + int64_t(kvh) * d;
    if (!fp8) return cache_part.ptr<const float>() + offset;
    cpu::dequantize_kv_row(cache_part.ptr<const uint8_t>() + offset, d, scale, buffer);
    return static_cast<const float*>(buffer);
  };

  // One work item per (sequence, query token); the token's position is its index in
  // the context: the queries are the last tokens of the sequence.
  std::vector<std::pair<int32_t, int32_t>> items;  // (sequence, flat token)
  for (int s = 0; s < meta.num_seqs; ++s)
    for (int32_t t = query_start[s]; t < query_start[s + 1]; ++t) items.emplace_back(s, t);
  TERN_CHECK(int64_t(query_start[meta.num_seqs]) == q.rows(), "paged_attention: ", q.rows(), " query rows but ",
             query_start[meta.num_seqs], " tokens in the metadata");

  ThreadPool::global().parallel_for(int64_t(items.size()), 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scores, buffer(static_cast<size_t>(d));
    for (int64_t it = begin; it < end; ++it) {
      auto [s, t] = items[it];
      const int32_t q_len = query_start[s + 1] - query_start[s];
      const int32_t pos = seq_lens[s] - q_len + (t - query_start[s]);
      TERN_CHECK(pos >= 0 && (pos / block_size) < max_blocks, "paged_attention: position ", pos);
      // The keys this query sees: [first, pos], the last sliding_window of them when set.
      const int32_t first = shape.sliding_window > 0 ? std::max(0, pos - shape.sliding_window + 1) : 0;
      scores.resize(size_t(pos) + 1);
      for (int h = 0; h < hq; ++h) {
        const float* qh = q.ptr<const float>() + int64_t(t) * hq * d + int64_t(h) * d;
        const int kvh = h / group;
        float max_score = -std::numeric_limits<float>::infinity();
        for (int32_t j = first; j <= pos; ++j) {
          int64_t slot = int64_t(tables[s * max_blocks + j / block_size]) * block_size + j % block_size;
          const float* k = kv_head(cache.k, cache.k_scale, slot, kvh, buffer.data());
          scores[j] = cpu::dot(qh, k, d) * shape.scale;
          max_score = std::max(max_score, scores[j]);
        }
        float denom = 0.0f;
        for (int32_t j = first; j <= pos; ++j) {
          scores[j] = std::exp(scores[j] - max_score);
          denom += scores[j];
        }
        float* o = out.ptr<float>() + int64_t(t) * hq * d + int64_t(h) * d;
        for (int i = 0; i < d; ++i) o[i] = 0.0f;
        for (int32_t j = first; j <= pos; ++j) {
          int64_t slot = int64_t(tables[s * max_blocks + j / block_size]) * block_size + j % block_size;
          const float* v = kv_head(cache.v, cache.v_scale, slot, kvh, buffer.data());
          float p = scores[j] / denom;
          for (int i = 0; i < d; ++i) o[i] += p * v[i];
        }
      }
    }
  });
}

}  // namespace tern
