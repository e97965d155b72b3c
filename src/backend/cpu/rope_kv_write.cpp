#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/kv_fp8.h"
#include "backend/cpu/op_support.h"

namespace tern {
namespace {

// Neox-style rotation of one head in place: pairs (i, i + D/2), as HF's rotate_half.
void rotate(float* head, int32_t pos, const float* inv_freq, float scaling, int dim) {
  const int half = dim / 2;
  for (int i = 0; i < half; ++i) {
    float angle = float(pos) * inv_freq[i];
    float c = std::cos(angle) * scaling, s = std::sin(angle) * scaling;
    float x1 = head[i], x2 = head[i + half];
    head[i] = x1 * c - x2 * s;
    head[i + half] = x2 * c + x1 * s;
  }
}

}  // namespace

void CpuBackend::rope_kv_write(const Tensor& qkv, const Tensor& positions, const Tensor& slot_mapping,
                               const RopeParams& rope, const AttentionShape& shape, const KvCacheLayer& cache,
                               const Tensor& q_out) {
  cpu::expect(qkv, DType::kF32, "rope_kv_write", "qkv");
  cpu::expect(positions, DType::kI32, "rope_kv_write", "positions");
  cpu::expect(slot_mapping, DType::kI32, "rope_kv_write", "slot_mapping");
  cpu::expect(rope.inv_freq, DType::kF32, "rope_kv_write", "inv_freq");
  const bool fp8 = cache.k.dtype == DType::kF8E4M3;
  cpu::expect(cache.k, fp8 ? DType::kF8E4M3 : DType::kF32, "rope_kv_write", "k cache");
  cpu::expect(cache.v, cache.k.dtype, "rope_kv_write", "v cache");
  cpu::expect(q_out, DType::kF32, "rope_kv_write", "q_out");
  const int hq = shape.num_q_heads, hkv = shape.num_kv_heads, d = shape.head_dim;
  const int64_t tokens = qkv.rows(), width = int64_t(hq + 2 * hkv) * d;
  TERN_CHECK(qkv.cols() == width && q_out.rows() == tokens && q_out.cols() == int64_t(hq) * d, "rope_kv_write qkv ",
             qkv.shape_str(), " q_out ", q_out.shape_str());
  TERN_CHECK(rope.inv_freq.numel() == d / 2, "rope_kv_write inv_freq ", rope.inv_freq.shape_str());
  const int64_t num_slots = cache.num_blocks() * cache.block_size();
  const int64_t kv_row = int64_t(hkv) * d;
  const float* inv_freq = rope.inv_freq.ptr<const float>();
  std::vector<float> k(static_cast<size_t>(kv_row));
  for (int64_t t = 0; t < tokens; ++t) {
    const float* src = qkv.ptr<const float>() + t * width;
    int32_t pos = positions.ptr<const int32_t>()[t];
    float* q = q_out.ptr<float>() + t * int64_t(hq) * d;
    std::memcpy(q, src, sizeof(float) * hq * d);
    for (int h = 0; h < hq; ++h) rotate(q + h * d, pos, inv_freq, rope.attention_scaling, d);
    int32_t slot = slot_mapping.ptr<const int32_t>()[t];
    if (slot < 0) continue;
    TERN_CHECK(slot < num_slots, "slot ", slot, " outside the cache of ", num_slots, " slots");
    const float* v = src + int64_t(hq + hkv) * d;
    std::memcpy(k.data(), src + int64_t(hq) * d, sizeof(float) * kv_row);
    for (int h = 0; h < hkv; ++h) rotate(k.data() + h * d, pos, inv_freq, rope.attention_scaling, d);
    if (fp8) {
      cpu::quantize_kv_row(k.data(), kv_row, cache.k_scale, cache.k.ptr<uint8_t>() + slot * kv_row);
      cpu::quantize_kv_row(v, kv_row, cache.v_scale, cache.v.ptr<uint8_t>() + slot * kv_row);
    } else {
      std::memcpy(cache.k.ptr<float>() + slot * kv_row, k.data(), sizeof(float) * kv_row);
      std::memcpy(cache.v.ptr<float>() + slot * kv_row, v, sizeof(float) * kv_row);
    }
  }
}

}  // namespace tern
