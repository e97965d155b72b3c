// CudaBackend::top_k: the k largest logits of each row (ties: lower id first) and the
// row's log-sum-exp, so sampling copies k candidates per row to the host instead of the
// vocabulary.
//
// Two stages. Stage 1: each block takes one chunk of one row into shared memory, computes
// the chunk's max and sum of exp, and pulls out its k best by k rounds of block argmax.
// Stage 2: one block per row merges the chunks' candidates the same way and combines the
// log-sum-exp. k rounds of argmax cost O(k * chunk / threads) per block, small next to
// the lm_head GEMM that produced the logits.
#include <cfloat>
#include <cmath>

#include "backend/cuda/common.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/top_k.cuh"

namespace tern::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kChunks = 32;  // chunks per row in stage 1

struct Best {
  float value;
  int index;  // position in the shared arrays
};

__device__ bool better(float a, int ia_id, float b, int ib_id) { return a > b || (a == b && ia_id < ib_id); }

// Block-wide argmax of values[0..n) by (value, then smaller id). All threads get it.
__device__ Best block_argmax(const float* values, const int* ids, int n, Best* scratch) {
  Best best{-INFINITY, -1};
  int best_id = INT_MAX;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    float v = values[i];
    if (best.index < 0 || better(v, ids[i], best.value, best_id)) {
      best = {v, i};
      best_id = ids[i];
    }
  }
  for (int offset = 16; offset > 0; offset >>= 1) {
    float ov = __shfl_down_sync(0xffffffffu, best.value, offset);
    int oi = __shfl_down_sync(0xffffffffu, best.index, offset);
    int oid = __shfl_down_sync(0xffffffffu, best_id, offset);
    if (oi >= 0 && (best.index < 0 || better(ov, oid, best.value, best_id))) {
      best = {ov, oi};
      best_id = oid;
    }
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __shared__ int warp_ids[kThreads / 32];
  if (lane == 0) {
    scratch[warp] = best;
    warp_ids[warp] = best_id;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    Best b = scratch[0];
    int bid = warp_ids[0];
    for (int w = 1; w < int(blockDim.x / 32); ++w) {
      if (scratch[w].index >= 0 && (b.index < 0 || better(scratch[w].value, warp_ids[w], b.value, bid))) {
        b = scratch[w];
        bid = warp_ids[w];
      }
    }
    scratch[0] = b;
  }
  __syncthreads();
  Best result = scratch[0];
  __syncthreads();
  return result;
}

__device__ float block_sum(float v, float* scratch) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < int(blockDim.x / 32); ++w) total += scratch[w];
  __syncthreads();
  return total;
}

__device__ float block_max(float v, float* scratch) {
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, offset));
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  float m = -INFINITY;
  for (int w = 0; w < int(blockDim.x / 32); ++w) m = fmaxf(m, scratch[w]);
  __syncthreads();
  return m;
}

// Pulls the k best of (values, ids)[0..n) in order into out_values/out_ids; destroys values.
__device__ void take_best(float* values, int* ids, int n, int k, float* out_values, int* out_ids) {
  __shared__ Best scratch[kThreads / 32];
  for (int r = 0; r < k; ++r) {
    Best b = block_argmax(values, ids, n, scratch);
    if (threadIdx.x == 0) {
      out_values[r] = b.index >= 0 ? b.value : -INFINITY;
      out_ids[r] = b.index >= 0 ? ids[b.index] : 0;
      if (b.index >= 0) {
        values[b.index] = -INFINITY;
        ids[b.index] = INT_MAX;  // never chosen again ahead of a real candidate
      }
    }
    __syncthreads();
  }
}

// grid (kChunks, rows). Writes per chunk: k candidates, max, sum of exp(x - max), NaN flag.
__global__ void top_k_chunks(const float* logits, int64_t vocab, int k, int chunk, float* cand_values, int* cand_ids,
                             float* chunk_max, float* chunk_sum) {
  cuda::pdl_start();
  extern __shared__ unsigned char smem[];
  float* values = reinterpret_cast<float*>(smem);
  int* ids = reinterpret_cast<int*>(values + chunk);
  __shared__ float red[kThreads / 32];
  const int64_t row = blockIdx.y;
  const int64_t begin = int64_t(blockIdx.x) * chunk;
  const int64_t left = vocab - begin;
  const int n = left <= 0 ? 0 : int(left < chunk ? left : chunk);
  const float* src = logits + row * vocab + begin;
  float local_max = -INFINITY;
  bool nan = false;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    float v = src[i];
    nan = nan || isnan(v);
    values[i] = v;
    ids[i] = int(begin + i);
    local_max = fmaxf(local_max, v);
  }
  __syncthreads();
  const float m = block_max(local_max, red);
  float local_sum = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) local_sum += m == -INFINITY ? 0.0f : __expf(values[i] - m);
  float s = block_sum(local_sum, red);
  const bool any_nan = __syncthreads_or(nan);
  const int64_t slot = row * gridDim.x + blockIdx.x;
  if (threadIdx.x == 0) {
    chunk_max[slot] = any_nan ? NAN : m;
    chunk_sum[slot] = s;
  }
  take_best(values, ids, n, k, cand_values + slot * k, cand_ids + slot * k);
}

// grid (rows). Merges the chunks of a row.
__global__ void top_k_merge(int chunks, int k, float* cand_values, int* cand_ids, const float* chunk_max,
                            const float* chunk_sum, int* out_ids, float* out_values, float* out_lse) {
  cuda::pdl_start();
  const int64_t row = blockIdx.x;
  const int n = chunks * k;
  float* values = cand_values + row * n;
  int* ids = cand_ids + row * n;
  take_best(values, ids, n, k, out_values + row * k, out_ids + row * k);
  if (threadIdx.x == 0) {
    float m = -INFINITY;
    bool nan = false;
    for (int c = 0; c < chunks; ++c) {
      float cm = chunk_max[row * chunks + c];
      nan = nan || isnan(cm);
      m = fmaxf(m, cm);
    }
    float s = 0.0f;
    for (int c = 0; c < chunks; ++c) {
      float cm = chunk_max[row * chunks + c];
      if (cm != -INFINITY) s += chunk_sum[row * chunks + c] * __expf(cm - m);
    }
    out_lse[row] = nan ? NAN : m + logf(s);
  }
}

}  // namespace

size_t top_k_workspace_bytes(int64_t rows, int k) {
  // Per chunk: k candidate values and ids, its max and its sum.
  return size_t(rows) * kChunks * (size_t(k) * 8 + 8);
}

void launch_top_k(const float* logits, int64_t rows, int64_t vocab, int k, void* workspace, int32_t* ids, float* values,
                  float* log_sum_exp, cudaStream_t stream) {
  const int chunk = int((vocab + kChunks - 1) / kChunks);
  const size_t smem = size_t(chunk) * (sizeof(float) + sizeof(int));
  if (smem > 200 * 1024) throw error("cuda top_k: vocabulary of ", vocab, " is too large");
  const size_t cand = size_t(rows) * kChunks * k;
  float* cand_values = static_cast<float*>(workspace);
  int* cand_ids = reinterpret_cast<int*>(cand_values + cand);
  float* chunk_max = reinterpret_cast<float*>(cand_ids + cand);
  float* chunk_sum = chunk_max + rows * kChunks;
  static bool configured = false;  // shared memory above 48 KB needs an opt-in
  if (!configured) {
    CUDA_CHECK(cudaFuncSetAttribute(top_k_chunks, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024));
    configured = true;
  }
  launch(top_k_chunks, dim3(kChunks, unsigned(rows)), kThreads, smem, stream, logits, vocab, k, chunk, cand_values,
         cand_ids, chunk_max, chunk_sum);
  launch(top_k_merge, unsigned(rows), kThreads, 0, stream, kChunks, k, cand_values, cand_ids, chunk_max, chunk_sum, ids,
         values, log_sum_exp);
}

}  // namespace tern::cuda

namespace tern {

void CudaBackend::top_k(const Tensor& logits, int k, const Tensor& ids, const Tensor& values,
                        const Tensor& log_sum_exp) {
  const char* op = "top_k";
  cuda::expect(logits, DType::kF32, op, "logits");
  cuda::expect(ids, DType::kI32, op, "ids");
  cuda::expect(values, DType::kF32, op, "values");
  cuda::expect(log_sum_exp, DType::kF32, op, "log_sum_exp");
  const int64_t rows = logits.rows(), vocab = logits.cols();
  if (k <= 0 || k > cuda::kTopKMax || k > vocab)
    throw error("cuda top_k: k ", k, " must be in [1, ", cuda::kTopKMax, "] and <= ", vocab);
  cuda::expect_matrix(ids, rows, k, op, "ids");
  cuda::expect_matrix(values, rows, k, op, "values");
  if (log_sum_exp.numel() != rows)
    throw error("cuda top_k: log_sum_exp has ", log_sum_exp.numel(), " rows, not ", rows);
  if (rows == 0) return;
  use_device();
  void* workspace = top_k_workspace_.get(cuda::top_k_workspace_bytes(rows, k), stream_);
  cuda::launch_top_k(logits.ptr<const float>(), rows, vocab, k, workspace, ids.ptr<int32_t>(), values.ptr<float>(),
                     log_sum_exp.ptr<float>(), stream_);
}

}  // namespace tern
