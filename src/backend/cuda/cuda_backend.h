// The CUDA backend: BF16 activations, a BF16 or FP8 KV cache, one stream that every op
// is enqueued on asynchronously. Ops never allocate (beyond a workspace's first growth), never wait
// for the device and never copy from pageable memory, so a step of ops can be captured
// into a CUDA graph on stream(). Memory calls (upload, copy_to_host, copy_from_host,
// synchronize) do wait. Use one backend from one thread at a time.
//
// Kernels that cannot throw on bad data keep the "never out of bounds" rule instead: an
// id or index outside its table gives a row of NaN (0xFF bytes), a KV slot outside the
// cache is skipped like a negative one.
#pragma once

#include <cuda_runtime.h>

#include <memory>
#include <optional>

#include "backend/backend.h"
#include "backend/cuda/cublaslt_fp8_gemm.h"
#include "backend/cuda/cublaslt_gemm.h"
#include "backend/cuda/w4a16_schedule.h"
#include "backend/cuda/workspace.h"

namespace tern {

class CudaBackend final : public Backend {
 public:
  // Throws tern::Error if the device does not exist or is older than compute capability 8.0.
  explicit CudaBackend(const BackendOptions& options);
  ~CudaBackend() override;

  std::string name() const override { return "cuda"; }
  Device device() const override { return Device::kCuda; }
  DType activation_dtype() const override { return DType::kBF16; }
  // rope_kv_write quantises into, and both attention kernels read, an F8E4M3 cache.
  bool supports_fp8_kv_cache() const override { return true; }
  DType weight_dtype(DType stored) const override {
    return stored == DType::kF32 || stored == DType::kF16 ? DType::kBF16 : stored;
  }
  // The stream every op runs on, for the runner's graph capture and events.
  cudaStream_t stream() const { return stream_; }
  int device_index() const { return device_index_; }

  Tensor alloc(DType dtype, std::initializer_list<int64_t> shape) override;
  Tensor upload(const Tensor& host, DType dtype) override;
  void copy_to_host(const Tensor& src, void* dst) override;
  void copy_from_host(const Tensor& dst, const void* src) override;
  void fill_zero(const Tensor& dst) override;
  void synchronize() override;
  // Pinned host memory, copies ordered on the stream, and the memory budget.
  Tensor alloc_staging(DType dtype, std::initializer_list<int64_t> shape) override;
  void copy_from_host_async(const Tensor& dst, const void* src) override;
  void copy_to_host_async(const Tensor& src, void* dst) override;
  MemoryInfo memory_info() const override;
  // Repacks into the tensor-core tile layout of int4_tiles.h, then uploads.
  Int4Weight upload_int4(const Int4Weight& host) override;
  // The host layout, except that block scales get each block row padded to a multiple of
  // 4 scales, the layout cuBLASLt's 128x128 block scaling reads (linear_fp8.cu).
  Fp8Weight upload_fp8(const Fp8Weight& host) override;
  // A CUDA graph of the ops `record` enqueues on stream() (graph_capture.cpp).
  std::unique_ptr<CapturedGraph> capture(const std::function<void()>& record) override;

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
  void top_k(const Tensor& logits, int k, const Tensor& ids, const Tensor& values, const Tensor& log_sum_exp) override;

 private:
  // Makes this backend's device current on the calling thread (the runtime's current
  // device is per thread, and the engine calls from its own thread).
  void use_device() const;
  // linear() for INT4 weights (linear_int4.cu).
  void linear_int4(const Tensor& x, const LinearWeight& w, const Tensor& out);
  // linear() for FP8 weights (linear_fp8.cu).
  void linear_fp8(const Tensor& x, const LinearWeight& w, const Tensor& out);

  int device_index_ = 0;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<cuda::CublasLtGemm> gemm_;
  std::unique_ptr<cuda::CublasLtFp8Gemm> fp8_gemm_;  // shares gemm_'s handle and workspace
  // Set on sm_90 GPUs, which run INT4 weights through the W4A16 GEMM; older ones
  // dequantise to BF16 for cuBLASLt.
  std::optional<cuda::W4Device> w4a16_;
  cuda::Workspace attention_workspace_{"paged_attention split-KV partials"};
  cuda::Workspace top_k_workspace_{"top_k per-chunk candidates"};
  cuda::Workspace int4_columns_workspace_{"INT4 linear: activations in act-order column order, or realigned"};
  cuda::Workspace int4_dense_workspace_{"INT4 linear: weights dequantised to BF16 (GPUs before sm_90)"};
  cuda::Workspace int4_partials_workspace_{"INT4 linear: partial sums of K slices"};
  cuda::Workspace int4_counters_workspace_{"INT4 linear: K-slice counters", cuda::WorkspaceInit::kZeroed};
  cuda::Workspace fp8_codes_workspace_{"FP8 linear: activations quantised to e4m3"};
  cuda::Workspace fp8_scales_workspace_{"FP8 linear: activation scales"};
};

}  // namespace tern
