// The CPU backend: the readable reference every other backend is checked against.
// Activations and the KV cache are F32; weights stay in their stored dtype (BF16/F16/F32)
// and are widened on the fly, so a model is used straight from the mapped file.
#pragma once

#include "backend/backend.h"

namespace tern {

class CpuBackend final : public Backend {
 public:
  // Sizes the process-wide worker pool the ops run on (ThreadPool::global()) to
  // num_threads, or for 0 to ThreadPool::default_global_size() (TERN_NUM_THREADS, else
  // all cores). The pool is shared by every CpuBackend of the process (the ranks of a
  // CPU tensor-parallel group pass the same number), so the latest one sets its size.
  explicit CpuBackend(int num_threads = 0);

  // Threads the ops run on: the pool's size.
  int num_threads() const;

  std::string name() const override { return "cpu"; }
  Device device() const override { return Device::kCpu; }
  DType activation_dtype() const override { return DType::kF32; }
  bool supports_fp8_kv_cache() const override { return true; }
  DType weight_dtype(DType stored) const override { return stored; }

  Tensor alloc(DType dtype, std::initializer_list<int64_t> shape) override;
  Tensor upload(const Tensor& host, DType dtype) override;
  void copy_to_host(const Tensor& src, void* dst) override;
  void copy_from_host(const Tensor& dst, const void* src) override;
  void fill_zero(const Tensor& dst) override;
  void synchronize() override {}

  void embedding(const Tensor& ids, const Tensor& table, const Tensor& out) override;
  void embedding_slice(const Tensor& ids, const Tensor& table, int64_t first_id, const Tensor& out) override;
  void rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) override;
  void add_rms_norm(const Tensor& residual, const Tensor& x, const Tensor& weight, float eps,
                    const Tensor& out) override;
  void linear(const Tensor& x, const LinearWeight& w, const Tensor& out) override;
  void rope_kv_write(const Tensor& qkv, const Tensor& positions, const Tensor& slot_mapping, const RopeParams& rope,
                     const AttentionShape& shape, const KvCacheLayer& cache, const Tensor& q_out) override;
  void paged_attention(const Tensor& q, const KvCacheLayer& cache, const AttentionMetadata& meta,
                       const AttentionShape& shape, const Tensor& out) override;
  void act_mul(const Tensor& gate_up, const Tensor& out, Activation act) override;
  void gather_rows(const Tensor& x, const Tensor& indices, const Tensor& out) override;
  void copy_blocks(std::span<const KvCacheLayer> layers, const Tensor& block_copies) override;
  void mask_logits(const Tensor& logits, const Tensor& rows, const Tensor& masks) override;
  void adjust_logits(const Tensor& logits, const Tensor& targets, const Tensor& amounts) override;
};

}  // namespace tern
