#include <algorithm>

#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/rope_kv_write.cuh"

namespace tern::cuda {
namespace {

constexpr int kThreads = 512;

// A value into the cache: BF16 as is, FP8 as the e4m3 code of x / scale. __fdiv_rn is the
// CPU's IEEE division, and the conversion rounds to nearest even and saturates finite
// values to +-448 (NaN stays NaN), so equal inputs store the CPU's bits.
__device__ __forceinline__ void store(__nv_bfloat16* dst, float x, float) { *dst = __float2bfloat16(x); }
__device__ __forceinline__ void store(__nv_fp8_e4m3* dst, float x, float scale) {
  dst->__x = __nv_cvt_float_to_fp8(__fdiv_rn(x, scale), __NV_SATFINITE, __NV_E4M3);
}

// Block = (token, a run of heads of q, k and v); thread (h, i) handles the pair (i, i +
// head_dim / 2) of head h, so a token's loads are all in flight at once. cos/sin are FP32
// with the accurate sincosf (angles reach 1e5 radians at long positions, where __cosf is
// far off). K is rotated in FP32 and rounded once, to the cache's type.
template <typename Cache>
__global__ void __launch_bounds__(kThreads) rope_kv_write_kernel(const RopeKvWriteArgs<Cache> a, int heads_per_block) {
  pdl_start();
  const int64_t t = blockIdx.x;
  const int half = a.head_dim / 2;
  const int head = blockIdx.y * heads_per_block + int(threadIdx.x) / half, i = int(threadIdx.x) % half;
  const int heads = a.num_q_heads + 2 * a.num_kv_heads;
  if (int(threadIdx.x) >= heads_per_block * half || head >= heads) return;
  const bool is_q = head < a.num_q_heads;
  const int32_t slot = a.slot_mapping[t];
  if (!is_q && (slot < 0 || slot >= a.num_slots)) return;  // padding: no cache write
  const __nv_bfloat16* in = a.qkv + (t * heads + head) * a.head_dim;
  const int64_t kv_row = int64_t(a.num_kv_heads) * a.head_dim;
  if (head >= a.num_q_heads + a.num_kv_heads) {  // v: copied as is
    Cache* dst = a.v_cache + slot * kv_row + (head - a.num_q_heads - a.num_kv_heads) * a.head_dim;
    store(dst + i, __bfloat162float(in[i]), a.v_scale);
    store(dst + i + half, __bfloat162float(in[i + half]), a.v_scale);
    return;
  }
  float sin_v, cos_v;
  sincosf(float(a.positions[t]) * a.inv_freq[i], &sin_v, &cos_v);
  const float c = cos_v * a.attention_scaling, s = sin_v * a.attention_scaling;
  const float x1 = __bfloat162float(in[i]), x2 = __bfloat162float(in[i + half]);
  const float r1 = x1 * c - x2 * s, r2 = x2 * c + x1 * s;
  if (is_q) {
    __nv_bfloat16* dst = a.q_out + (t * a.num_q_heads + head) * a.head_dim;
    store(dst + i, r1, 1.0f);
    store(dst + i + half, r2, 1.0f);
  } else {
    Cache* dst = a.k_cache + slot * kv_row + (head - a.num_q_heads) * a.head_dim;
    store(dst + i, r1, a.k_scale);
    store(dst + i + half, r2, a.k_scale);
  }
}

}  // namespace

template <typename Cache>
void launch_rope_kv_write(const RopeKvWriteArgs<Cache>& args, cudaStream_t stream) {
  if (args.tokens == 0) return;
  const int half = args.head_dim / 2, heads = args.num_q_heads + 2 * args.num_kv_heads;
  const int heads_per_block = std::max(1, kThreads / half);
  const dim3 grid(unsigned(args.tokens), ceil_div(heads, heads_per_block));
  const unsigned threads = (unsigned(std::min(heads, heads_per_block) * half) + 31) / 32 * 32;
  launch(rope_kv_write_kernel<Cache>, grid, threads, 0, stream, args, heads_per_block);
}

template void launch_rope_kv_write(const RopeKvWriteArgs<__nv_bfloat16>&, cudaStream_t);
template void launch_rope_kv_write(const RopeKvWriteArgs<__nv_fp8_e4m3>&, cudaStream_t);

}  // namespace tern::cuda

namespace tern {

void CudaBackend::rope_kv_write(const Tensor& qkv, const Tensor& positions, const Tensor& slot_mapping,
                                const RopeParams& rope, const AttentionShape& shape, const KvCacheLayer& cache,
                                const Tensor& q_out) {
  const char* op = "rope_kv_write";
  const int hq = shape.num_q_heads, hkv = shape.num_kv_heads, d = shape.head_dim;
  if (hq <= 0 || hkv <= 0 || hq % hkv != 0 || d <= 0 || d % 2 != 0 || d > 1024)
    throw error("cuda rope_kv_write: unsupported heads ", hq, "/", hkv, " of dim ", d,
                " (needs kv heads dividing q heads, an even head_dim of at most 1024)");
  cuda::expect(qkv, DType::kBF16, op, "qkv");
  cuda::expect(positions, DType::kI32, op, "positions");
  cuda::expect(slot_mapping, DType::kI32, op, "slot_mapping");
  cuda::expect(rope.inv_freq, DType::kF32, op, "inv_freq");
  const bool fp8 = cuda::expect_kv_cache(cache, op);
  cuda::expect(q_out, DType::kBF16, op, "q_out");
  const int64_t tokens = qkv.rows();
  cuda::expect_matrix(qkv, tokens, int64_t(hq + 2 * hkv) * d, op, "qkv");
  cuda::expect_matrix(q_out, tokens, int64_t(hq) * d, op, "q_out");
  cuda::expect_matrix(positions, 1, tokens, op, "positions");
  cuda::expect_matrix(slot_mapping, 1, tokens, op, "slot_mapping");
  cuda::expect_matrix(rope.inv_freq, 1, d / 2, op, "inv_freq");
  cuda::expect_shape(cache.k, {cache.num_blocks(), cache.block_size(), hkv, d}, op, "k cache");
  cuda::expect_shape(cache.v, {cache.num_blocks(), cache.block_size(), hkv, d}, op, "v cache");
  use_device();
  const auto run = [&]<typename Cache>(Cache*) {
    cuda::launch_rope_kv_write<Cache>({.qkv = qkv.ptr<const __nv_bfloat16>(),
                                       .positions = positions.ptr<const int32_t>(),
                                       .slot_mapping = slot_mapping.ptr<const int32_t>(),
                                       .inv_freq = rope.inv_freq.ptr<const float>(),
                                       .attention_scaling = rope.attention_scaling,
                                       .k_cache = cache.k.ptr<Cache>(),
                                       .v_cache = cache.v.ptr<Cache>(),
                                       .k_scale = cache.k_scale,
                                       .v_scale = cache.v_scale,
                                       .q_out = q_out.ptr<__nv_bfloat16>(),
                                       .tokens = tokens,
                                       .num_slots = cache.num_blocks() * cache.block_size(),
                                       .num_q_heads = hq,
                                       .num_kv_heads = hkv,
                                       .head_dim = d},
                                      stream_);
  };
  if (fp8) {
    run(static_cast<__nv_fp8_e4m3*>(nullptr));
  } else {
    run(static_cast<__nv_bfloat16*>(nullptr));
  }
}

}  // namespace tern
