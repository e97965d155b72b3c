// CudaBackend::paged_attention: checks the operands, then runs the prefill kernel for
// sequences of two or more query tokens and the split-KV decode kernel for single-token
// ones. Each sequence goes to one kernel by its own query length, so a decode token gets
// the same bits whether or not its batch also holds prefills. The cache is BF16 or FP8
// (e4m3 codes with a scale per layer for K and one for V); both kernels are instantiated
// for each.
#include <cmath>
#include <type_traits>

#include "backend/cuda/attention_decode.cuh"
#include "backend/cuda/attention_prefill.cuh"
#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_backend.h"

namespace tern {
namespace {

template <typename Cache>
void run_attention(const cuda::attention::Params<Cache>& params, int head_dim, const AttentionMetadata& meta,
                   cuda::Workspace& workspace, cudaStream_t stream) {
  cuda::attention::launch_prefill(params, head_dim, meta.max_query_len, stream);
  void* partials = workspace.get(
      cuda::attention::decode_workspace_bytes(meta.num_seqs, params.num_q_heads, head_dim, meta.max_seq_len), stream);
  cuda::attention::launch_decode(params, head_dim, meta.max_seq_len, partials, stream);
}

// The kernels' operands for a cache of Cache elements. For FP8 the scores are taken on
// the e4m3 values and K's scale joins the softmax scale (one F32 rounding of the product
// where the CPU rounds each dequantised element), and V's scale multiplies each output
// row once instead of every value.
template <typename Cache>
cuda::attention::Params<Cache> params_for(const Tensor& q, const KvCacheLayer& cache, const AttentionMetadata& meta,
                                          const AttentionShape& shape, const Tensor& out) {
  constexpr bool kFp8 = std::is_same_v<Cache, cuda::attention::fp8>;
  return {
      .q = q.ptr<const __nv_bfloat16>(),
      .out = out.ptr<__nv_bfloat16>(),
      .k_cache = cache.k.ptr<const Cache>(),
      .v_cache = cache.v.ptr<const Cache>(),
      .query_start = meta.query_start.ptr<const int32_t>(),
      .seq_lens = meta.seq_lens.ptr<const int32_t>(),
      .block_tables = meta.block_tables.ptr<const int32_t>(),
      .num_seqs = meta.num_seqs,
      .num_q_heads = shape.num_q_heads,
      .num_kv_heads = shape.num_kv_heads,
      .block_size = int(cache.block_size()),
      .max_blocks_per_seq = int(meta.block_tables.cols()),
      .sliding_window = shape.sliding_window,
      .scale_log2 = shape.scale * (kFp8 ? cache.k_scale : 1.0f) * float(M_LOG2E),
      .out_scale = kFp8 ? cache.v_scale : 1.0f,
  };
}

}  // namespace

void CudaBackend::paged_attention(const Tensor& q, const KvCacheLayer& cache, const AttentionMetadata& meta,
                                  const AttentionShape& shape, const Tensor& out) {
  const char* op = "paged_attention";
  const int hq = shape.num_q_heads, hkv = shape.num_kv_heads, d = shape.head_dim;
  if (hkv <= 0 || hq <= 0 || hq % hkv != 0)
    throw error("cuda paged_attention: ", hq, " query heads cannot share ", hkv, " KV heads");
  if (shape.sliding_window < 0)
    throw error("cuda paged_attention: sliding window ", shape.sliding_window, " (0 for none, or a key count)");
  if (d != 16 && d != 32 && d != 64 && d != 128)
    throw error("cuda paged_attention: head_dim ", d, " is not supported (16, 32, 64, 128)");
  cuda::expect(q, DType::kBF16, op, "q");
  cuda::expect(out, DType::kBF16, op, "out");
  const bool fp8 = cuda::expect_kv_cache(cache, op);
  cuda::expect(meta.query_start, DType::kI32, op, "query_start");
  cuda::expect(meta.seq_lens, DType::kI32, op, "seq_lens");
  cuda::expect(meta.block_tables, DType::kI32, op, "block_tables");
  const int64_t tokens = q.rows();
  cuda::expect_matrix(q, tokens, int64_t(hq) * d, op, "q");
  cuda::expect_matrix(out, tokens, int64_t(hq) * d, op, "out");
  cuda::expect_shape(cache.k, {cache.num_blocks(), cache.block_size(), hkv, d}, op, "k cache");
  cuda::expect_shape(cache.v, {cache.num_blocks(), cache.block_size(), hkv, d}, op, "v cache");
  cuda::expect_matrix(meta.query_start, 1, meta.num_seqs + 1, op, "query_start");
  cuda::expect_matrix(meta.seq_lens, 1, meta.num_seqs, op, "seq_lens");
  if (meta.num_seqs > 0)
    cuda::expect_matrix(meta.block_tables, meta.num_seqs, meta.block_tables.cols(), op, "block_tables");
  if (meta.max_query_len < 0 || meta.max_seq_len < meta.max_query_len)
    throw error("cuda paged_attention: max_query_len ", meta.max_query_len, " and max_seq_len ", meta.max_seq_len,
                " are not a valid bound (0 <= max_query_len <= max_seq_len)");
  if (meta.num_seqs == 0 || tokens == 0) return;
  use_device();

  if (fp8) {
    run_attention(params_for<cuda::attention::fp8>(q, cache, meta, shape, out), d, meta, attention_workspace_, stream_);
  } else {
    run_attention(params_for<cuda::attention::bf16>(q, cache, meta, shape, out), d, meta, attention_workspace_,
                  stream_);
  }
}

}  // namespace tern
