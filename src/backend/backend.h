// The op table: the small interface the model forward is written against once, with a
// CPU implementation (the readable reference, backend/cpu/) and a CUDA one (backend/cuda/).
//
// Conventions for every op:
//  - Tensors are dense row-major on the backend's device (Tensor::device()).
//  - "T" is the number of tokens in the step's flat batch, "S" the number of sequences.
//  - Activations and the KV cache use activation_dtype(); weights may be BF16/F16/F32.
//  - An op given a dtype or shape it does not support throws tern::Error naming the op,
//    the operand and what it got; it never writes out of bounds.
//  - Each output row depends only on its own inputs (batch invariance): the same token
//    computed alone or inside any batch gives bit-identical results.
#pragma once

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "backend/activation.h"
#include "quant/fp8_weight.h"
#include "quant/int4_weight.h"
#include "tensor/tensor.h"

namespace tern {

// y = x W^T + b for a Hugging Face style [out_features, in_features] weight, held
// dense (`weight`), as INT4 codes with group scales and zero points (`int4`, from
// GPTQ/AWQ checkpoints or `tern quantize`; quant/int4_weight.h), or as FP8 e4m3 values
// with channel or block scales whose input is quantised to FP8 too (`fp8`, W8A8;
// quant/fp8_weight.h). Exactly one of the three is set; docs/quantization.md has the
// arithmetic. A backend that cannot compute with a format throws tern::Error from
// linear() when given one.
struct LinearWeight {
  Tensor weight;      // [out_features, in_features]; empty when int4 or fp8 is set
  Tensor bias;        // [out_features], or empty
  Int4Weight int4{};  // set for INT4 weights; its tensors live on the backend's device
  Fp8Weight fp8{};    // set for FP8 weights; likewise
  bool is_int4() const { return !int4.empty(); }
  bool is_fp8() const { return !fp8.empty(); }
  int64_t out_features() const {
    return is_int4() ? int4.out_features() : is_fp8() ? fp8.out_features() : weight.dim(0);
  }
  int64_t in_features() const { return is_int4() ? int4.in_features() : is_fp8() ? fp8.in_features() : weight.dim(1); }
};

// One layer of the paged KV cache. Both tensors: [num_blocks, block_size, num_kv_heads,
// head_dim] in activation_dtype(), or in F8E4M3 for an FP8 KV cache (on a backend whose
// supports_fp8_kv_cache()), which stores e4m3(clamp(x / scale, -448, 448)) and reads back
// e4m3 * scale, with one scale per layer for K and one for V. Token slot s lives at block
// s / block_size, row s % block_size.
struct KvCacheLayer {
  Tensor k;
  Tensor v;
  float k_scale = 1.0f;  // FP8 only
  float v_scale = 1.0f;
  int64_t num_blocks() const { return k.dim(0); }
  int64_t block_size() const { return k.dim(1); }
};

// Rotary embedding in the neox layout (halves rotated): for pair i of a head,
// angle = position * inv_freq[i], and cos/sin are multiplied by attention_scaling
// (1 except for YaRN). All RoPE scaling types reduce to these two inputs (model/rope.h).
struct RopeParams {
  Tensor inv_freq;  // [head_dim / 2] F32 on the device
  float attention_scaling = 1.0f;
};

struct AttentionShape {
  int num_q_heads = 0;
  int num_kv_heads = 0;  // divides num_q_heads (grouped-query attention)
  int head_dim = 0;
  float scale = 1.0f;  // softmax scale, normally 1/sqrt(head_dim)
  // Sliding-window attention (Mistral): W > 0 limits the query at position p to the W
  // keys at positions (p - W, p], as transformers' sliding_window does; 0 = all of [0, p].
  int sliding_window = 0;
};

// Where each sequence of the flat batch lives. Device tensors of I32.
// Sequence s owns tokens [query_start[s], query_start[s+1]) of the flat batch; they are
// the last (query_start[s+1]-query_start[s]) tokens of its context of seq_lens[s]
// tokens, whose K/V are in the cache blocks block_tables[s, 0 .. ceil(seq_lens[s]/B)).
// Attention is causal: query token j of s sees context positions [0, pos_j] (with a
// sliding window W, only (pos_j - W, pos_j]).
struct AttentionMetadata {
  int num_seqs = 0;
  int max_query_len = 0;  // host-side launch hints: the largest query and context
  int max_seq_len = 0;
  Tensor query_start;   // [S + 1]
  Tensor seq_lens;      // [S]
  Tensor block_tables;  // [S, max_blocks_per_seq]
};

// A recorded sequence of ops that can be replayed with the same buffers (a CUDA graph).
class CapturedGraph {
 public:
  virtual ~CapturedGraph() = default;
  virtual void replay() = 0;
};

struct MemoryInfo {
  size_t free_bytes = 0;
  size_t total_bytes = 0;  // 0: unknown (the CPU backend does not budget memory)
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;
  virtual Device device() const = 0;
  // Element type of activations and the KV cache: F32 on the CPU, BF16 on CUDA.
  virtual DType activation_dtype() const = 0;
  // Whether rope_kv_write and paged_attention take an F8E4M3 KV cache (KvCacheLayer).
  virtual bool supports_fp8_kv_cache() const { return false; }
  // The dtype a float weight stored as `stored` is kept in on this device. The CPU
  // keeps what is stored (zero-copy); CUDA converts everything to BF16.
  virtual DType weight_dtype(DType stored) const = 0;

  // ---- memory -------------------------------------------------------------------
  // New device memory, uninitialised.
  virtual Tensor alloc(DType dtype, std::initializer_list<int64_t> shape) = 0;
  // A device copy of a host tensor converted to `dtype` (float types convert among
  // themselves; integer types must match). May return a view of `host` when the
  // device is the CPU and no conversion is needed (zero-copy from a mapped file).
  virtual Tensor upload(const Tensor& host, DType dtype) = 0;
  // Blocking copies between host memory and a device tensor of the same byte size.
  virtual void copy_to_host(const Tensor& src, void* dst) = 0;
  virtual void copy_from_host(const Tensor& dst, const void* src) = 0;
  virtual void fill_zero(const Tensor& dst) = 0;
  virtual void synchronize() = 0;

  // Host memory that device copies can read and write without an extra copy (pinned
  // on CUDA), for inputs and outputs staged every step.
  virtual Tensor alloc_staging(DType dtype, std::initializer_list<int64_t> shape) { return host_tensor(dtype, shape); }
  // Copies from staging memory, ordered before every op enqueued after it; `src` must stay
  // unchanged until the next synchronize(). The default is the blocking copy.
  virtual void copy_from_host_async(const Tensor& dst, const void* src) { copy_from_host(dst, src); }
  // Copies to staging memory; `dst` is valid after the next synchronize().
  virtual void copy_to_host_async(const Tensor& src, void* dst) { copy_to_host(src, dst); }
  virtual MemoryInfo memory_info() const { return {}; }
  // A host INT4 weight (Int4Layout::kRowMajor, validated) on this device, in the layout
  // this backend's linear() computes from. The default uploads each tensor unchanged.
  virtual Int4Weight upload_int4(const Int4Weight& host);
  // A host FP8 weight (validated) on this device, in the layout this backend's linear()
  // computes from. The default uploads each tensor unchanged.
  virtual Fp8Weight upload_fp8(const Fp8Weight& host);

  // Records the ops `record` enqueues (with no allocation and no synchronisation inside)
  // into a graph that replays them on the same buffers; nullptr when the backend cannot.
  virtual std::unique_ptr<CapturedGraph> capture(const std::function<void()>& record) {
    (void)record;
    return nullptr;
  }

  // ---- ops ----------------------------------------------------------------------
  // out[t, :] = table[ids[t], :].  ids [T] I32 (each in [0, V)), table [V, H], out [T, H].
  virtual void embedding(const Tensor& ids, const Tensor& table, const Tensor& out) = 0;

  // The vocabulary-parallel embedding of tensor parallelism: `table` [V, H] holds rows
  // [first_id, first_id + V) of the whole table. out[t, :] = table[ids[t] - first_id, :]
  // for an id in that range, zeros for any other id (another rank's row: the all-reduce
  // that follows adds it in). ids [T] I32, out [T, H].
  virtual void embedding_slice(const Tensor& ids, const Tensor& table, int64_t first_id, const Tensor& out) = 0;

  // out = x / sqrt(mean(x^2) + eps) * weight, per row.  x, out [T, H]; weight [H].
  virtual void rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) = 0;

  // residual += x, then out = rms_norm(residual).  residual, x, out [T, H].
  // The sum is rounded to activation_dtype() before the norm, as the unfused
  // reference does.
  virtual void add_rms_norm(const Tensor& residual, const Tensor& x, const Tensor& weight, float eps,
                            const Tensor& out) = 0;

  // out = x W^T (+ bias).  x [M, K], out [M, N] in activation_dtype() or F32.
  virtual void linear(const Tensor& x, const LinearWeight& w, const Tensor& out) = 0;

  // Splits qkv [T, (Hq + 2 Hkv) * D] into q, k, v; rotates q and k by RoPE at
  // positions [T] (I32); writes k and v to cache slot slot_mapping[t] (I32; a negative
  // slot means "padding, write nothing"), quantised with the layer's scales when the
  // cache is FP8; writes the rotated q to q_out [T, Hq * D].
  virtual void rope_kv_write(const Tensor& qkv, const Tensor& positions, const Tensor& slot_mapping,
                             const RopeParams& rope, const AttentionShape& shape, const KvCacheLayer& cache,
                             const Tensor& q_out) = 0;

  // Causal grouped-query attention of q [T, Hq * D] over the paged cache, limited to the
  // last shape.sliding_window keys when that is set; prefill, chunked prefill and decode
  // are all this one op. out [T, Hq * D].
  virtual void paged_attention(const Tensor& q, const KvCacheLayer& cache, const AttentionMetadata& meta,
                               const AttentionShape& shape, const Tensor& out) = 0;

  // out = act(gate) * up where gate_up [T, 2 I] holds gate then up; out [T, I].
  virtual void act_mul(const Tensor& gate_up, const Tensor& out, Activation act) = 0;

  // out[i, :] = x[indices[i], :].  indices [N] I32, x [M, C], out [N, C].
  virtual void gather_rows(const Tensor& x, const Tensor& indices, const Tensor& out) = 0;

  // Whole-block copies in the paged KV cache (copy-on-write of shared blocks): for each
  // row (src, dst) of block_copies [N, 2] I32, block dst of every layer's K and V becomes a
  // copy of block src. All layers have the same shape and dtype. Ids lie in
  // [0, num_blocks); destinations are distinct and none is also a source, so the copies
  // may run in any order. The CPU checks this and throws before writing anything; CUDA
  // skips a pair with an id outside the cache. Enqueued like any op, before the forward
  // of the step whose KV writes depend on it.
  virtual void copy_blocks(std::span<const KvCacheLayer> layers, const Tensor& block_copies) = 0;

  // Structured output: for each i, row rows[i] of logits keeps column c only where bit
  // (c % 32) of masks[i, c / 32] is set; every other column of that row, and every column
  // at or past masks.cols() * 32, becomes -inf. Rows not named stay as they are.
  // logits [S, V] F32; rows [N] I32, distinct, in [0, S); masks [N, W] I32. Enqueued like
  // any op, between the forward and the top_k / copy of the logits.
  virtual void mask_logits(const Tensor& logits, const Tensor& rows, const Tensor& masks) = 0;

  // Sampling penalties, logit_bias and banned tokens, applied where the logits are (so the
  // top_k op sees the penalised rows). For each i, with (r, t) = targets[i] and (bias,
  // repetition, subtract) = amounts[i], logits[r, t] becomes
  //   x = logits[r, t] + bias;  x = x > 0 ? x / repetition : x * repetition;  x - subtract
  // in F32, the order of runner/logit_adjustments.h. logits [S, V] F32; targets [N, 2] I32,
  // each (r, t) at most once, r in [0, S), t in [0, V); amounts [N, 3] F32.
  virtual void adjust_logits(const Tensor& logits, const Tensor& targets, const Tensor& amounts) = 0;

  // The k largest logits of each row, sorted highest first (ties: lower id first), and
  // log(sum(exp(row))) over the whole row. logits [S, V] F32; ids [S, k] I32;
  // values [S, k] F32; log_sum_exp [S] F32. NaN in a row gives NaN in its log_sum_exp.
  // The default copies the rows to the host and computes there.
  virtual void top_k(const Tensor& logits, int k, const Tensor& ids, const Tensor& values, const Tensor& log_sum_exp);
};

struct BackendOptions {
  int device_index = 0;  // CUDA device ordinal
  int num_threads = 0;   // CPU worker threads; 0 = TERN_NUM_THREADS, else all cores
};

// "cpu" or "cuda". Throws tern::Error for an unknown name, or for "cuda" in a build
// without CUDA or on a machine without a usable GPU.
std::unique_ptr<Backend> make_backend(std::string_view name, const BackendOptions& options = {});

}  // namespace tern
