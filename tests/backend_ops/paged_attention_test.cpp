// paged_attention against the CPU: prefill, chunked prefill over a cached prefix, decode
// with contexts from 1 to 8k (split-KV), and mixed batches, with GQA ratios 1 to 32, head
// dims 16 to 128, block sizes 16 and 32, sliding windows from 5 keys (less than a block)
// to 3000 (many tiles and decode partitions), and every sequence's blocks scattered over
// the cache in shuffled order. Also: a sequence alone and inside a batch gives the same
// bits, and a window longer than every context gives the bits of full attention.
// FP8 caches: the same kinds of cases on random e4m3 codes (the CPU reads the very bytes
// CUDA reads), and every code read back exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

#include "op_test_support.h"

namespace tern::test {
namespace {

struct Seq {
  int seq_len, q_len;  // context tokens (cached prefix + new) and new (query) tokens
};

struct AttentionCase {
  const char* name;
  int hq, hkv, d, block_size;
  std::vector<Seq> seqs;
  float q_scale = 1.0f;  // larger values make the softmax peakier
  int window = 0;        // sliding window in keys; 0: full causal attention
  bool fp8 = false;      // an F8E4M3 cache of random codes instead of BF16 values
};

// The FP8 cases' scales: not powers of two, so folding K's into the softmax scale rounds.
constexpr float kKScale = 0.0173f, kVScale = 0.0091f;

// One random problem: Q for every query token, a cache holding every sequence's
// context in shuffled blocks, and the metadata for the whole batch.
struct Problem {
  AttentionCase c;
  int num_blocks = 0, max_blocks = 0, tokens = 0;
  std::vector<float> q, k, v;             // k and v: BF16 caches only
  std::vector<uint8_t> k_codes, v_codes;  // FP8 caches only
  std::vector<int32_t> query_start, tables;

  explicit Problem(const AttentionCase& test_case) : c(test_case) {
    std::mt19937 rng = rng_for_test();
    for (const Seq& s : c.seqs) {
      const int blocks = (s.seq_len + c.block_size - 1) / c.block_size;
      num_blocks += blocks;
      max_blocks = std::max(max_blocks, blocks + 1);  // one spare column of padding
    }
    num_blocks += 2;
    std::vector<int32_t> ids(num_blocks);
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    // Table padding points at a real block holding unrelated data: reading past a
    // context shows up as a wrong value, not a crash that ends the test program.
    const int32_t padding = ids.back();
    tables.assign(c.seqs.size() * max_blocks, padding);
    int next = 0;
    query_start.push_back(0);
    for (size_t s = 0; s < c.seqs.size(); ++s) {
      const int blocks = (c.seqs[s].seq_len + c.block_size - 1) / c.block_size;
      for (int b = 0; b < blocks; ++b) tables[s * max_blocks + b] = ids[next++];
      query_start.push_back(query_start.back() + c.seqs[s].q_len);
    }
    tokens = query_start.back();
    q = random_bf16(size_t(tokens) * c.hq * c.d, rng, c.q_scale);
    const size_t cache_elems = size_t(num_blocks) * c.block_size * c.hkv * c.d;
    if (c.fp8) {
      k_codes = random_e4m3_codes(cache_elems, rng);
      v_codes = random_e4m3_codes(cache_elems, rng);
    } else {
      k = random_bf16(cache_elems, rng);
      v = random_bf16(cache_elems, rng);
    }
  }

  // The cache on `backend`: F32 (CPU) or BF16 (CUDA) values, or the same e4m3 bytes on both.
  KvCacheLayer cache_on(Backend& backend) const {
    const std::initializer_list<int64_t> shape{num_blocks, c.block_size, c.hkv, c.d};
    if (c.fp8) return {e4m3_on(backend, k_codes, shape), e4m3_on(backend, v_codes, shape), kKScale, kVScale};
    if (&backend == &cpu()) return {on_cpu(k, shape), on_cpu(v, shape)};
    return {on_cuda(k, shape), on_cuda(v, shape)};
  }

  AttentionShape shape() const {
    return {.num_q_heads = c.hq,
            .num_kv_heads = c.hkv,
            .head_dim = c.d,
            .scale = 1.0f / std::sqrt(float(c.d)),
            .sliding_window = c.window};
  }
  int row_width() const { return c.hq * c.d; }

  // Metadata and Q rows for the sequences `which` (in that order) on `backend`.
  struct Batch {
    AttentionMetadata meta;
    Tensor q;
    int tokens = 0;
  };
  Batch batch(Backend& backend, const std::vector<int>& which) const {
    std::vector<int32_t> starts{0}, lens, rows;
    std::vector<float> q_rows;
    Batch b;
    for (int s : which) {
      const Seq& seq = c.seqs[s];
      starts.push_back(starts.back() + seq.q_len);
      lens.push_back(seq.seq_len);
      rows.insert(rows.end(), tables.begin() + size_t(s) * max_blocks, tables.begin() + size_t(s + 1) * max_blocks);
      q_rows.insert(q_rows.end(), q.begin() + size_t(query_start[s]) * row_width(),
                    q.begin() + size_t(query_start[s + 1]) * row_width());
      b.meta.max_query_len = std::max(b.meta.max_query_len, seq.q_len);
      b.meta.max_seq_len = std::max(b.meta.max_seq_len, seq.seq_len);
    }
    const int n = int(which.size());
    b.tokens = starts.back();
    b.meta.num_seqs = n;
    b.meta.query_start = i32_on(backend, starts, {n + 1});
    b.meta.seq_lens = i32_on(backend, lens, {n});
    b.meta.block_tables = i32_on(backend, rows, {n, max_blocks});
    b.q = backend.name() == "cpu" ? on_cpu(q_rows, {b.tokens, row_width()}) : on_cuda(q_rows, {b.tokens, row_width()});
    return b;
  }

  std::vector<int> all() const {
    std::vector<int> which(c.seqs.size());
    std::iota(which.begin(), which.end(), 0);
    return which;
  }

  std::vector<float> run_cpu() const {
    KvCacheLayer cache = cache_on(cpu());
    Batch b = batch(cpu(), all());
    Tensor out = cpu().alloc(DType::kF32, {b.tokens, row_width()});
    cpu().paged_attention(b.q, cache, b.meta, shape(), out);
    return download(cpu(), out);
  }
};

// The CUDA side keeps one cache per problem so sequences can be run in any grouping.
struct CudaAttention {
  const Problem& p;
  KvCacheLayer cache;

  explicit CudaAttention(const Problem& problem) : p(problem), cache(problem.cache_on(cuda())) {}

  std::vector<float> run(const std::vector<int>& which, const std::string& what) { return run(which, what, p.shape()); }
  std::vector<float> run(const std::vector<int>& which, const std::string& what, const AttentionShape& shape) {
    Problem::Batch b = p.batch(cuda(), which);
    GuardedOutput out = guarded_cuda_output(DType::kBF16, {b.tokens, p.row_width()});
    cuda().paged_attention(b.q, cache, b.meta, shape, out.tensor);
    expect_guard_intact(out, what);
    return download(cuda(), out.tensor);
  }
};

std::vector<float> rows_of(const Problem& p, const std::vector<float>& all_rows, int s) {
  return {all_rows.begin() + size_t(p.query_start[s]) * p.row_width(),
          all_rows.begin() + size_t(p.query_start[s + 1]) * p.row_width()};
}

std::string describe(const Problem& p, int s) {
  return std::string(p.c.name) + " hq=" + std::to_string(p.c.hq) + " hkv=" + std::to_string(p.c.hkv) +
         " d=" + std::to_string(p.c.d) + " block=" + std::to_string(p.c.block_size) +
         " window=" + std::to_string(p.c.window) + (p.c.fp8 ? " fp8" : "") + " seq " + std::to_string(s) +
         " (context " + std::to_string(p.c.seqs[s].seq_len) + ", query " + std::to_string(p.c.seqs[s].q_len) + ")";
}

class PagedAttention : public ::testing::TestWithParam<AttentionCase> {};

// With an FP8 cache both sides read the same e4m3 values (exact in BF16), so the
// tolerance is the BF16 cache's: the differences are the kernels' BF16 probabilities and
// output, and the F32 rounding of K's scale folded into the softmax scale.
TEST_P(PagedAttention, MatchesCpu) {
  const Problem p(GetParam());
  const std::vector<float> want = p.run_cpu();
  CudaAttention attention(p);
  const std::vector<float> got = attention.run(p.all(), p.c.name);
  for (int s = 0; s < int(p.c.seqs.size()); ++s)
    expect_close(rows_of(p, got, s), rows_of(p, want, s), 1e-2, describe(p, s));
}

TEST_P(PagedAttention, EachSequenceAloneGivesTheSameBitsAsInTheBatch) {
  const Problem p(GetParam());
  CudaAttention attention(p);
  const std::vector<float> together = attention.run(p.all(), p.c.name);
  for (int s = 0; s < int(p.c.seqs.size()); ++s) {
    const std::vector<float> alone = attention.run({s}, p.c.name), in_batch = rows_of(p, together, s);
    ASSERT_EQ(alone.size(), in_batch.size());
    for (size_t i = 0; i < alone.size(); ++i)
      ASSERT_EQ(std::bit_cast<uint32_t>(alone[i]), std::bit_cast<uint32_t>(in_batch[i]))
          << describe(p, s) << ": element " << i << " alone " << alone[i] << " in the batch " << in_batch[i];
  }
}

const std::vector<Seq> kPrefill = {{37, 37}, {64, 64}, {100, 100}, {2, 2}, {129, 129}};
const std::vector<Seq> kChunked = {{300, 37}, {129, 64}, {77, 2}, {1000, 130}, {65, 64}, {700, 300}};
const std::vector<Seq> kDecode = {{1, 1}, {17, 1}, {255, 1}, {256, 1}, {257, 1}, {1000, 1}, {4096, 1}, {3333, 1}};
const std::vector<Seq> kMixed = {{50, 50}, {17, 1}, {300, 45}, {2049, 1}, {64, 1}, {65, 65}, {1, 1}};
const std::vector<Seq> kLong = {{8192, 1}, {8000, 1}, {5000, 1}, {2048, 1}, {700, 3}};
// Prefills long enough that whole key tiles fall out of a query tile's windows.
const std::vector<Seq> kWindowPrefill = {{37, 37}, {129, 129}, {2, 2}, {400, 400}, {300, 300}};

const std::vector<AttentionCase> kCases = {
    AttentionCase{"prefill", 4, 4, 64, 16, kPrefill}, AttentionCase{"prefill", 8, 2, 128, 32, kPrefill},
    AttentionCase{"prefill", 14, 2, 128, 16, kPrefill, 4.0f}, AttentionCase{"chunked", 7, 1, 64, 32, kChunked},
    AttentionCase{"chunked", 8, 2, 128, 16, kChunked, 4.0f}, AttentionCase{"decode", 4, 4, 128, 16, kDecode},
    AttentionCase{"decode", 8, 2, 64, 32, kDecode}, AttentionCase{"decode", 28, 4, 128, 16, kDecode, 4.0f},
    AttentionCase{"mixed", 14, 2, 128, 16, kMixed}, AttentionCase{"mixed", 4, 1, 64, 32, kMixed, 4.0f},
    AttentionCase{"mixed", 32, 1, 64, 16, kMixed}, AttentionCase{"mixed", 4, 2, 16, 16, kMixed},
    AttentionCase{"mixed", 4, 1, 32, 32, kMixed}, AttentionCase{"long", 28, 4, 128, 16, kLong},
    // Sliding windows: less than a block, across blocks, across key tiles (64) and query
    // tiles (128), and over several decode partitions (256 keys each).
    AttentionCase{"window_prefill", 4, 4, 64, 16, kWindowPrefill, 1.0f, 5},
    AttentionCase{"window_prefill", 8, 2, 128, 32, kWindowPrefill, 4.0f, 40},
    AttentionCase{"window_prefill", 14, 2, 128, 16, kWindowPrefill, 1.0f, 100},
    AttentionCase{"window_chunked", 7, 1, 64, 32, kChunked, 1.0f, 5},
    AttentionCase{"window_chunked", 8, 2, 128, 16, kChunked, 4.0f, 300},
    AttentionCase{"window_decode", 4, 4, 128, 16, kDecode, 1.0f, 5},
    AttentionCase{"window_decode", 28, 4, 128, 16, kDecode, 4.0f, 1000},
    AttentionCase{"window_mixed", 14, 2, 128, 16, kMixed, 1.0f, 64},
    AttentionCase{"window_long", 28, 4, 128, 16, kLong, 1.0f, 3000}};

// FP8 caches: prefill, chunked prefill, decode, split-KV long contexts and sliding windows,
// at head_dim 64 and 128 and block sizes 16 and 32.
std::vector<AttentionCase> fp8_cases() {
  std::vector<AttentionCase> cases = {AttentionCase{"prefill", 4, 4, 64, 16, kPrefill},
                                      AttentionCase{"prefill", 8, 2, 128, 32, kPrefill},
                                      AttentionCase{"chunked", 7, 1, 64, 32, kChunked},
                                      AttentionCase{"chunked", 8, 2, 128, 16, kChunked, 4.0f},
                                      AttentionCase{"decode", 8, 2, 64, 32, kDecode},
                                      AttentionCase{"decode", 28, 4, 128, 16, kDecode, 4.0f},
                                      AttentionCase{"mixed", 14, 2, 128, 16, kMixed},
                                      AttentionCase{"mixed", 4, 2, 16, 16, kMixed},
                                      AttentionCase{"long", 28, 4, 128, 16, kLong},
                                      AttentionCase{"window_prefill", 8, 2, 128, 32, kWindowPrefill, 4.0f, 40},
                                      AttentionCase{"window_chunked", 7, 1, 64, 32, kChunked, 1.0f, 5},
                                      AttentionCase{"window_decode", 28, 4, 128, 16, kDecode, 4.0f, 1000},
                                      AttentionCase{"window_long", 28, 4, 128, 16, kLong, 1.0f, 3000}};
  for (AttentionCase& c : cases) c.fp8 = true;
  return cases;
}

std::string case_name(const ::testing::TestParamInfo<AttentionCase>& info) {
  const AttentionCase& c = info.param;
  return std::string(c.name) + "_hq" + std::to_string(c.hq) + "_hkv" + std::to_string(c.hkv) + "_d" +
         std::to_string(c.d) + "_b" + std::to_string(c.block_size) + (c.q_scale != 1.0f ? "_peaky" : "") +
         (c.window > 0 ? "_w" + std::to_string(c.window) : "") + (c.fp8 ? "_fp8" : "");
}

INSTANTIATE_TEST_SUITE_P(Cases, PagedAttention, ::testing::ValuesIn(kCases), case_name);
INSTANTIATE_TEST_SUITE_P(Fp8Cases, PagedAttention, ::testing::ValuesIn(fp8_cases()), case_name);

// A window at least as long as every context hides nothing: the kernels then take the
// same path as full attention, to the bit.
TEST(PagedAttentionWindow, AWindowCoveringEveryContextGivesTheBitsOfFullAttention) {
  for (const auto& seqs : {kMixed, kChunked}) {
    const Problem p(AttentionCase{"cover", 8, 2, 128, 16, seqs});
    CudaAttention attention(p);
    AttentionShape covering = p.shape();
    covering.sliding_window = 4096;
    const std::vector<float> full = attention.run(p.all(), "full"), windowed = attention.run(p.all(), "w", covering);
    ASSERT_EQ(full.size(), windowed.size());
    for (size_t i = 0; i < full.size(); ++i)
      ASSERT_EQ(std::bit_cast<uint32_t>(full[i]), std::bit_cast<uint32_t>(windowed[i])) << "element " << i;
  }
}

// Every finite e4m3 code through both kernels, exactly: with q = 0 every score is 0, so a
// query that sees one key gets that key's V row times 1 (the decode token of a one-token
// context, and the first token of a two-token prefill). V's scale is a power of two, so
// code value * scale is a BF16 value and the output must equal it exactly.
TEST(PagedAttentionFp8, ReadsEveryCodeExactly) {
  constexpr int kHkv = 2, kDim = 128, kBlock = 16;
  constexpr float kScale = 0.125f;
  std::mt19937 rng = rng_for_test();
  const std::initializer_list<int64_t> shape{2, kBlock, kHkv, kDim};
  const size_t row = size_t(kHkv) * kDim, block = kBlock * row;
  std::vector<uint8_t> k_codes = random_e4m3_codes(2 * block, rng), v_codes = random_e4m3_codes(2 * block, rng);
  std::vector<uint8_t> every(row);  // codes 0..255, the NaN codes (0x7F, 0xFF) as 0
  for (size_t i = 0; i < row; ++i) every[i] = (i & 0x7F) == 0x7F ? 0 : uint8_t(i);
  for (size_t b = 0; b < 2; ++b) std::copy(every.begin(), every.end(), v_codes.begin() + b * block);  // slot 0
  // Sequence 0: decode, context 1, in block 0; sequence 1: a prefill of 2 tokens in block 1.
  const std::vector<int32_t> starts{0, 1, 3}, lens{1, 2}, tables{0, 1};
  const std::vector<float> q(3 * row, 0.0f);  // one query head per KV head
  const AttentionShape attention{.num_q_heads = kHkv, .num_kv_heads = kHkv, .head_dim = kDim, .scale = 0.088f};
  const KvCacheLayer cache{e4m3_on(cuda(), k_codes, shape), e4m3_on(cuda(), v_codes, shape), 0.3f, kScale};
  const AttentionMetadata meta{.num_seqs = 2,
                               .max_query_len = 2,
                               .max_seq_len = 2,
                               .query_start = i32_on(cuda(), starts, {3}),
                               .seq_lens = i32_on(cuda(), lens, {2}),
                               .block_tables = i32_on(cuda(), tables, {2, 1})};
  GuardedOutput out = guarded_cuda_output(DType::kBF16, {3, int64_t(row)});
  cuda().paged_attention(on_cuda(q, {3, int64_t(row)}), cache, meta, attention, out.tensor);
  expect_guard_intact(out, "fp8 every code");
  const std::vector<float> got = download(cuda(), out.tensor);
  for (size_t token : {0, 1})  // the decode token, the prefill's first token
    for (size_t i = 0; i < row; ++i) {
      const float want = e4m3_to_f32(every[i]) * kScale, value = got[token * row + i];
      ASSERT_EQ(value, want)  // float equality: -0 (0x80) comes back as +0, the MMA's sum
          << (token == 0 ? "decode" : "prefill") << ": code 0x" << std::hex << int(every[i]) << " read as " << value;
    }
}

TEST(PagedAttentionErrors, RejectsUnsupportedShapes) {
  const Problem p(AttentionCase{"errors", 4, 2, 64, 16, {{10, 10}}});
  CudaAttention attention(p);
  Problem::Batch b = p.batch(cuda(), {0});
  Tensor out = cuda().alloc(DType::kBF16, {b.tokens, p.row_width()});
  AttentionShape bad_dim = p.shape();
  bad_dim.head_dim = 48;
  EXPECT_THROW(cuda().paged_attention(b.q, attention.cache, b.meta, bad_dim, out), Error);
  AttentionShape bad_group = p.shape();
  bad_group.num_kv_heads = 3;
  EXPECT_THROW(cuda().paged_attention(b.q, attention.cache, b.meta, bad_group, out), Error);
  AttentionShape bad_window = p.shape();
  bad_window.sliding_window = -1;
  EXPECT_THROW(cuda().paged_attention(b.q, attention.cache, b.meta, bad_window, out), Error);
  EXPECT_THROW(cuda().paged_attention(b.q, attention.cache, b.meta, p.shape(), cuda().alloc(DType::kF32, {10, 256})),
               Error);
}

TEST(PagedAttentionErrors, RejectsMixedCachesAndBadFp8Scales) {
  AttentionCase fp8_case{"errors", 4, 2, 64, 16, {{10, 10}}};
  fp8_case.fp8 = true;
  const Problem p(fp8_case);
  CudaAttention attention(p);
  Problem::Batch b = p.batch(cuda(), {0});
  Tensor out = cuda().alloc(DType::kBF16, {b.tokens, p.row_width()});
  KvCacheLayer mixed = attention.cache;
  mixed.v = cuda().alloc(DType::kBF16, {p.num_blocks, p.c.block_size, p.c.hkv, p.c.d});
  EXPECT_THROW(cuda().paged_attention(b.q, mixed, b.meta, p.shape(), out), Error) << "FP8 K with BF16 V";
  KvCacheLayer zero_scale = attention.cache;
  zero_scale.k_scale = 0.0f;
  EXPECT_THROW(cuda().paged_attention(b.q, zero_scale, b.meta, p.shape(), out), Error) << "k_scale 0";
}

}  // namespace
}  // namespace tern::test
