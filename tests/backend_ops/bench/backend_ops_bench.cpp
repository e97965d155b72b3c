// Micro-benchmark of the CUDA backend's ops at Qwen2.5-7B shapes (hidden 3584, 28 query
// and 4 KV heads of 128, intermediate 18944, vocabulary 152064), each against its floor:
// the bytes it must move over the measured copy bandwidth, or its FLOPs over the BF16
// tensor-core rate, whichever is larger.
//
// usage: backend_ops_bench OUT.json [label [groups]]   (label: free text stored in the
// report, such as the commit; groups: a comma-separated subset of gemm, int4, fp8, attention,
// small, copy, all by default), or backend_ops_bench --profile (one call of each attention
// kernel and of the INT4 GEMM at 7B shapes, for ncu). Timing: 20 calls captured in a CUDA
// graph, the median of 7 replays (see Bench::time_us). Weights rotate over enough copies
// that the set exceeds L2, so small-M GEMMs are timed from HBM, not cache. Where linear
// runs the GEMV (M <= kGemvMaxRows), cuBLASLt is timed on the same problem too
// ("cublasLt" rows); likewise the FP8 GEMV against cuBLASLt's FP8 GEMM ("cublasLt fp8" rows).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backend/cuda/cublaslt_gemm.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/fp8_gemv.cuh"
#include "backend/cuda/gemv.cuh"
#include "quant/fp8_weight.h"
#include "quant/int4_weight.h"
#include "tensor/dtype.h"

namespace tern {
namespace {

constexpr int kHidden = 3584, kHq = 28, kHkv = 4, kDim = 128, kInter = 18944, kVocab = 152064, kBlock = 16,
              kLayers = 28;
constexpr double kBf16PeakFlops = 790e12;  // dense BF16, measured on the H100 (docs/performance-history.md)
// Dense FP8: Hopper's tensor cores do twice the BF16 rate (not measured here yet).
constexpr double kFp8PeakFlops = 2 * kBf16PeakFlops;

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    std::fprintf(stderr, "CUDA error in %s: %s\n", what, cudaGetErrorString(status));
    std::exit(1);
  }
}

struct Record {
  std::string op, shape;
  double us = 0, floor_us = 0;
  std::string bound;    // "memory" or "compute": which term sets the floor
  double achieved = 0;  // GB/s for memory-bound rows, TFLOP/s for compute-bound rows
};

class Bench {
 public:
  Bench() : backend_(BackendOptions{}) {
    check(cudaEventCreate(&start_), "event");
    check(cudaEventCreate(&stop_), "event");
    std::mt19937 rng(1234);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    noise_.resize(size_t(1) << 22);
    for (auto& h : noise_) h = f32_to_bf16(dist(rng) * 0.05f);
  }
  ~Bench() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }

  CudaBackend& be() { return backend_; }

  // A tensor filled with a repeating random BF16 pattern (never zeros).
  Tensor random(DType dtype, std::initializer_list<int64_t> shape) {
    Tensor t = backend_.alloc(dtype, shape);
    const size_t bytes = t.nbytes(), chunk = noise_.size() * 2;
    check(cudaMemcpy(t.data, noise_.data(), std::min(bytes, chunk), cudaMemcpyHostToDevice), "fill");
    for (size_t done = chunk; done < bytes; done += chunk)
      check(cudaMemcpy(static_cast<char*>(t.data) + done, t.data, std::min(chunk, bytes - done),
                       cudaMemcpyDeviceToDevice),
            "fill");
    return t;
  }

  // Microseconds per call of fn: `reps` calls fn(0..reps-1) are captured into one CUDA
  // graph (as the runner will run a decode step), after two direct warm-up calls; the
  // median of 7 replays, divided by reps. Host launch cost stays out of the number.
  double time_us(const std::function<void(int)>& fn, int reps = 20) {
    fn(0);
    fn(1);
    check(cudaStreamSynchronize(backend_.stream()), "warm-up");
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    check(cudaStreamBeginCapture(backend_.stream(), cudaStreamCaptureModeThreadLocal), "capture");
    for (int i = 0; i < reps; ++i) fn(i);
    check(cudaStreamEndCapture(backend_.stream(), &graph), "capture");
    check(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
    check(cudaGraphLaunch(exec, backend_.stream()), "replay");
    std::vector<float> ms(7);
    for (float& t : ms) {
      check(cudaEventRecord(start_, backend_.stream()), "record");
      check(cudaGraphLaunch(exec, backend_.stream()), "replay");
      check(cudaEventRecord(stop_, backend_.stream()), "record");
      check(cudaEventSynchronize(stop_), "sync");
      check(cudaEventElapsedTime(&t, start_, stop_), "elapsed");
    }
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    std::nth_element(ms.begin(), ms.begin() + 3, ms.end());
    return double(ms[3]) * 1e3 / reps;
  }

  // Device-to-device copy bandwidth (bytes read + written), the memory ceiling. Timed with
  // events around direct copies: a copy node in a graph runs slower than the copy kernel.
  double copy_bandwidth() {
    const size_t bytes = size_t(1) << 30;
    void *a = nullptr, *b = nullptr;
    check(cudaMalloc(&a, bytes), "malloc");
    check(cudaMalloc(&b, bytes), "malloc");
    check(cudaMemset(a, 1, bytes), "memset");
    std::vector<float> ms(5);
    for (int i = -1; i < int(ms.size()); ++i) {
      check(cudaEventRecord(start_, backend_.stream()), "record");
      check(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, backend_.stream()), "copy");
      check(cudaEventRecord(stop_, backend_.stream()), "record");
      check(cudaEventSynchronize(stop_), "sync");
      if (i >= 0) check(cudaEventElapsedTime(&ms[i], start_, stop_), "elapsed");
    }
    cudaFree(a);
    cudaFree(b);
    std::nth_element(ms.begin(), ms.begin() + 2, ms.end());
    return 2.0 * double(bytes) / (double(ms[2]) * 1e-3);
  }

  // `peak_flops`: the tensor-core rate of the op's input type (kFp8PeakFlops for FP8).
  void add(std::string op, std::string shape, double us, double bytes, double flops,
           double peak_flops = kBf16PeakFlops) {
    Record r;
    r.op = std::move(op);
    r.shape = std::move(shape);
    r.us = us;
    const double mem_us = bytes / bandwidth_ * 1e6, flop_us = flops / peak_flops * 1e6;
    r.floor_us = std::max(mem_us, flop_us);
    r.bound = mem_us >= flop_us ? "memory" : "compute";
    r.achieved = r.bound == "memory" ? bytes / (r.us * 1e-6) / 1e9 : flops / (r.us * 1e-6) / 1e12;
    std::printf("%-22s %-34s %10.2f us  floor %9.2f us  %5.1f%% of floor speed  (%s %.1f %s)\n", r.op.c_str(),
                r.shape.c_str(), r.us, r.floor_us, 100.0 * r.floor_us / r.us, r.bound.c_str(), r.achieved,
                r.bound == "memory" ? "GB/s" : "TFLOP/s");
    std::fflush(stdout);
    records_.push_back(r);
  }

  double bandwidth_ = 3.0e12;
  std::vector<Record> records_;

 private:
  CudaBackend backend_;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  std::vector<uint16_t> noise_;
};

void bench_gemms(Bench& b) {
  struct Shape {
    const char* name;
    int k, n;
    DType out;
  };
  const Shape shapes[] = {{"qkv_proj", kHidden, (kHq + 2 * kHkv) * kDim, DType::kBF16},
                          {"o_proj", kHq * kDim, kHidden, DType::kBF16},
                          {"gate_up_proj", kHidden, 2 * kInter, DType::kBF16},
                          {"down_proj", kInter, kHidden, DType::kBF16},
                          {"lm_head", kHidden, kVocab, DType::kF32}};
  const int ms[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 2048};
  cuda::CublasLtGemm cublas;
  for (const Shape& s : shapes) {
    const double weight_bytes = 2.0 * s.k * s.n;
    const int copies = std::max(1, int(std::ceil(200e6 / weight_bytes)));  // > 4x L2
    std::vector<LinearWeight> weights;
    for (int c = 0; c < copies; ++c) weights.push_back({b.random(DType::kBF16, {s.n, s.k}), {}});
    for (int m : ms) {
      Tensor x = b.random(DType::kBF16, {m, s.k});
      Tensor out = b.be().alloc(s.out, {m, s.n});
      const double us = b.time_us([&](int i) { b.be().linear(x, weights[size_t(i) % weights.size()], out); });
      const double bytes = weight_bytes + 2.0 * m * s.k + double(dtype_size(s.out)) * m * s.n;
      if (m <= cuda::kGemvMaxRows) {  // linear runs the GEMV here: time cuBLASLt on the same problem
        const double cublas_us = b.time_us([&](int i) {
          cublas.run({.m = m,
                      .n = s.n,
                      .k = s.k,
                      .x = x.data,
                      .w = weights[size_t(i) % weights.size()].weight.data,
                      .bias = nullptr,
                      .out = out.data,
                      .out_dtype = s.out},
                     b.be().stream());
        });
        b.add(std::string("cublasLt ") + s.name,
              "M=" + std::to_string(m) + " K=" + std::to_string(s.k) + " N=" + std::to_string(s.n), cublas_us, bytes,
              2.0 * m * s.k * s.n);
      }
      b.add(std::string("linear ") + s.name,
            "M=" + std::to_string(m) + " K=" + std::to_string(s.k) + " N=" + std::to_string(s.n), us, bytes,
            2.0 * m * s.k * s.n);
    }
  }
}

// A random GPTQ-style weight (group 128, codes and zero points uniform, F16 scales) in the
// CUDA tile layout, and `copies - 1` more device copies of it for the L2 rotation.
std::vector<LinearWeight> random_int4_weights(Bench& b, int n, int k, int copies) {
  std::mt19937 rng(99);
  Int4Weight host = make_host_int4(n, k, 128);
  for (int64_t i = 0; i < host.codes.numel(); ++i) host.codes.ptr<uint8_t>()[i] = uint8_t(rng());
  for (int64_t i = 0; i < host.scales.numel(); ++i) {
    host.scales.ptr<float>()[i] = f16_to_f32(f32_to_f16(0.001f + float(rng() % 1000) * 1e-5f));
    host.zeros.ptr<uint8_t>()[i] = uint8_t(rng() % 16);
  }
  std::vector<LinearWeight> weights{{.weight = {}, .bias = {}, .int4 = b.be().upload_int4(host)}};
  while (int(weights.size()) < copies) {
    LinearWeight copy = weights[0];
    for (Tensor* t : {&copy.int4.codes, &copy.int4.scales}) {
      Tensor fresh = b.be().alloc(t->dtype, {t->numel()});
      fresh.ndim = t->ndim;
      fresh.shape = t->shape;
      check(cudaMemcpy(fresh.data, t->data, t->nbytes(), cudaMemcpyDeviceToDevice), "copy");
      *t = fresh;
    }
    weights.push_back(copy);
  }
  return weights;
}

// The INT4 (GPTQ g128) projections at the same shapes as bench_gemms' BF16 ones, so each
// "linear int4" row can be read against its "linear" row.
void bench_int4_gemms(Bench& b) {
  struct Shape {
    const char* name;
    int k, n;
  };
  const Shape shapes[] = {{"qkv_proj", kHidden, (kHq + 2 * kHkv) * kDim},
                          {"o_proj", kHq * kDim, kHidden},
                          {"gate_up_proj", kHidden, 2 * kInter},
                          {"down_proj", kInter, kHidden}};
  for (const Shape& s : shapes) {
    const double weight_bytes = 0.5 * s.k * s.n + 4.0 * s.n * (s.k / 128);
    const int copies = std::max(1, int(std::ceil(200e6 / weight_bytes)));
    std::vector<LinearWeight> weights = random_int4_weights(b, s.n, s.k, copies);
    for (int m : {1, 2, 4, 8, 16, 32, 64, 128, 256, 2048}) {
      Tensor x = b.random(DType::kBF16, {m, s.k});
      Tensor out = b.be().alloc(DType::kBF16, {m, s.n});
      const double us = b.time_us([&](int i) { b.be().linear(x, weights[size_t(i) % weights.size()], out); });
      b.add(std::string("linear int4 ") + s.name,
            "M=" + std::to_string(m) + " K=" + std::to_string(s.k) + " N=" + std::to_string(s.n), us,
            weight_bytes + 2.0 * m * s.k + 2.0 * m * s.n, 2.0 * m * s.k * s.n);
    }
  }
}

// The INT4 projections at a few token counts with the K split forced to 1, 2, 4 and 8
// slices (TERN_W4A16_SLICES), to check the schedule's cost model against measurement.
void bench_int4_splits(Bench& b) {
  struct Shape {
    const char* name;
    int k, n;
  };
  const Shape shapes[] = {{"qkv_proj", kHidden, (kHq + 2 * kHkv) * kDim},
                          {"o_proj", kHq * kDim, kHidden},
                          {"gate_up_proj", kHidden, 2 * kInter},
                          {"down_proj", kInter, kHidden}};
  for (const Shape& s : shapes) {
    const double weight_bytes = 0.5 * s.k * s.n + 4.0 * s.n * (s.k / 128);
    std::vector<LinearWeight> weights =
        random_int4_weights(b, s.n, s.k, std::max(1, int(std::ceil(200e6 / weight_bytes))));
    for (int m : {1, 16, 64, 256}) {
      Tensor x = b.random(DType::kBF16, {m, s.k});
      Tensor out = b.be().alloc(DType::kBF16, {m, s.n});
      for (int slices : {1, 2, 4, 8}) {
        setenv("TERN_W4A16_SLICES", std::to_string(slices).c_str(), 1);
        const double us = b.time_us([&](int i) { b.be().linear(x, weights[size_t(i) % weights.size()], out); });
        b.add(std::string("linear int4 slices=") + std::to_string(slices) + " " + s.name,
              "M=" + std::to_string(m) + " K=" + std::to_string(s.k) + " N=" + std::to_string(s.n), us,
              weight_bytes + 2.0 * m * s.k + 2.0 * m * s.n, 2.0 * m * s.k * s.n);
      }
      unsetenv("TERN_W4A16_SLICES");
    }
  }
}

// A random FP8 weight in the device layout (e4m3 codes, NaN codes avoided; scales around
// 1e-3), channel scales or 128x128 blocks with 128-column activation groups, and `copies - 1`
// more device copies of it for the L2 rotation.
std::vector<LinearWeight> random_fp8_weights(Bench& b, int n, int k, bool blocks, int copies) {
  std::mt19937 rng(98);
  Fp8Weight host;
  host.values = host_tensor(DType::kF8E4M3, {n, k});
  for (int64_t i = 0; i < host.values.numel(); ++i) {
    const uint8_t code = uint8_t(rng());
    host.values.ptr<uint8_t>()[i] = (code & 0x7F) == 0x7F ? uint8_t(code ^ 1) : code;
  }
  if (blocks) {
    host.block_rows = host.block_cols = 128;
    host.activations = Fp8Activations::kPerTokenGroup;
    host.activation_group = 128;
    host.scales = host_tensor(DType::kF32, {(n + 127) / 128, (k + 127) / 128});
  } else {
    host.scales = host_tensor(DType::kF32, {n});
  }
  for (int64_t i = 0; i < host.scales.numel(); ++i) host.scales.ptr<float>()[i] = 0.001f + float(rng() % 1000) * 1e-6f;
  std::vector<LinearWeight> weights{{.weight = {}, .bias = {}, .int4 = {}, .fp8 = b.be().upload_fp8(host)}};
  while (int(weights.size()) < copies) {
    LinearWeight copy = weights[0];
    for (Tensor* t : {&copy.fp8.values, &copy.fp8.scales}) {
      Tensor fresh = b.be().alloc(t->dtype, {t->numel()});
      fresh.ndim = t->ndim;
      fresh.shape = t->shape;
      check(cudaMemcpy(fresh.data, t->data, t->nbytes(), cudaMemcpyDeviceToDevice), "copy");
      *t = fresh;
    }
    weights.push_back(copy);
  }
  return weights;
}

// The FP8 (W8A8) projections at the BF16 rows' shapes, channel scales with per-token
// activations (what `tern quantize --method fp8` writes) and 128x128 blocks with 128-column
// groups (DeepSeek-style checkpoints). The time includes the activation quantisation;
// the bytes are the weights and their scales, x and the output. Where linear runs the GEMV,
// cuBLASLt's FP8 GEMM is timed too (TERN_FP8_GEMV_ROWS=0).
void bench_fp8_gemms(Bench& b) {
  struct Shape {
    const char* name;
    int k, n;
  };
  const Shape shapes[] = {{"qkv_proj", kHidden, (kHq + 2 * kHkv) * kDim},
                          {"o_proj", kHq * kDim, kHidden},
                          {"gate_up_proj", kHidden, 2 * kInter},
                          {"down_proj", kInter, kHidden}};
  for (const bool blocks : {false, true}) {
    const std::string scheme = blocks ? "fp8 blk128 " : "fp8 ";
    for (const Shape& s : shapes) {
      const double scale_bytes = blocks ? 4.0 * ((s.n + 127) / 128) * (((s.k + 127) / 128 + 3) / 4 * 4) : 4.0 * s.n;
      const double weight_bytes = double(s.k) * s.n + scale_bytes;
      std::vector<LinearWeight> weights =
          random_fp8_weights(b, s.n, s.k, blocks, std::max(1, int(std::ceil(200e6 / weight_bytes))));
      for (int m : {1, 16, 64, 256, 2048}) {
        Tensor x = b.random(DType::kBF16, {m, s.k});
        Tensor out = b.be().alloc(DType::kBF16, {m, s.n});
        const std::string shape = "M=" + std::to_string(m) + " K=" + std::to_string(s.k) + " N=" + std::to_string(s.n);
        const double bytes = weight_bytes + 2.0 * m * s.k + 2.0 * m * s.n, flops = 2.0 * m * s.k * s.n;
        auto run = [&](int i) { b.be().linear(x, weights[size_t(i) % weights.size()], out); };
        if (m <= cuda::kFp8GemvMaxRows) {
          setenv("TERN_FP8_GEMV_ROWS", "0", 1);
          b.add("cublasLt " + scheme + s.name, shape, b.time_us(run), bytes, flops, kFp8PeakFlops);
          unsetenv("TERN_FP8_GEMV_ROWS");
        }
        b.add("linear " + scheme + s.name, shape, b.time_us(run), bytes, flops, kFp8PeakFlops);
      }
    }
  }
}

// A paged cache of `seqs` sequences of `context` tokens in shuffled blocks, BF16 or FP8
// (the random bytes read as e4m3 codes, scales 1).
struct AttentionSetup {
  KvCacheLayer cache;
  AttentionMetadata meta;
  Tensor q, out;
};

AttentionSetup attention_setup(Bench& b, int seqs, int context, int q_len, DType cache = DType::kBF16) {
  const int blocks_per_seq = (context + kBlock - 1) / kBlock, num_blocks = seqs * blocks_per_seq;
  std::vector<int32_t> ids(num_blocks), starts{0}, lens(seqs, context);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(7));
  for (int s = 0; s < seqs; ++s) starts.push_back(starts.back() + q_len);
  auto upload = [&](const std::vector<int32_t>& v, std::initializer_list<int64_t> shape) {
    Tensor h = host_tensor(DType::kI32, shape);
    std::memcpy(h.data, v.data(), v.size() * 4);
    return b.be().upload(h, DType::kI32);
  };
  AttentionSetup a;
  a.cache = {b.random(cache, {num_blocks, kBlock, kHkv, kDim}), b.random(cache, {num_blocks, kBlock, kHkv, kDim})};
  a.meta = {.num_seqs = seqs,
            .max_query_len = q_len,
            .max_seq_len = context,
            .query_start = upload(starts, {seqs + 1}),
            .seq_lens = upload(lens, {seqs}),
            .block_tables = upload(ids, {seqs, blocks_per_seq})};
  a.q = b.random(DType::kBF16, {seqs * q_len, kHq * kDim});
  a.out = b.be().alloc(DType::kBF16, {seqs * q_len, kHq * kDim});
  return a;
}

// Decode and prefill attention with a BF16 and an FP8 cache ("fp8" rows). Decode reads
// each cached K and V element once per KV head, so its rows also print the K/V read
// bandwidth (cache bytes over the time): an FP8 cache reads half the bytes, and is at least
// as fast as BF16 only if that bandwidth does not halve with it.
void bench_attention(Bench& b) {
  const AttentionShape shape{.num_q_heads = kHq, .num_kv_heads = kHkv, .head_dim = kDim, .scale = 0.0883883f};
  for (DType cache : {DType::kBF16, DType::kF8E4M3}) {
    const std::string suffix = cache == DType::kF8E4M3 ? " fp8" : "";
    const double elem = double(dtype_size(cache));
    for (int batch : {1, 64})
      for (int context : {128, 2048, 8192}) {
        AttentionSetup a = attention_setup(b, batch, context, 1, cache);
        const double us = b.time_us([&](int) { b.be().paged_attention(a.q, a.cache, a.meta, shape, a.out); });
        const double kv_bytes = 2.0 * elem * batch * context * kHkv * kDim;
        b.add("attention decode" + suffix, "batch=" + std::to_string(batch) + " context=" + std::to_string(context), us,
              kv_bytes + 2.0 * 2.0 * batch * kHq * kDim, 4.0 * batch * kHq * kDim * double(context));
        std::printf("%-22s %-34s K/V read %.1f GB/s\n", "", "", kv_bytes / (us * 1e-6) / 1e9);
      }
    for (int tokens : {512, 2048}) {
      AttentionSetup a = attention_setup(b, 1, tokens, tokens, cache);
      const double us = b.time_us([&](int) { b.be().paged_attention(a.q, a.cache, a.meta, shape, a.out); }, 10);
      const double causal_pairs = double(tokens) * (tokens + 1) / 2;
      b.add("attention prefill" + suffix, "tokens=" + std::to_string(tokens) + " causal", us,
            2.0 * tokens * (2.0 * kHq + elem * 2.0 * kHkv) * kDim, 4.0 * kHq * kDim * causal_pairs);
    }
  }
}

// One direct call each of decode (batch 64, context 2048) and prefill (2048 tokens)
// attention and of the INT4 gate_up projection at M = 1, 16 and 32, for a profiler such as
// ncu to look at.
void profile_kernels(Bench& b) {
  const AttentionShape shape{.num_q_heads = kHq, .num_kv_heads = kHkv, .head_dim = kDim, .scale = 0.0883883f};
  AttentionSetup decode = attention_setup(b, 64, 2048, 1), prefill = attention_setup(b, 1, 2048, 2048);
  b.be().paged_attention(decode.q, decode.cache, decode.meta, shape, decode.out);
  b.be().paged_attention(prefill.q, prefill.cache, prefill.meta, shape, prefill.out);
  const LinearWeight gate_up = random_int4_weights(b, 2 * kInter, kHidden, 1)[0];
  for (int m : {1, 16, 32}) {
    Tensor x = b.random(DType::kBF16, {m, kHidden}), out = b.be().alloc(DType::kBF16, {m, 2 * kInter});
    b.be().linear(x, gate_up, out);
  }
  b.be().synchronize();
}

void bench_small_ops(Bench& b) {
  CudaBackend& be = b.be();
  const AttentionShape shape{.num_q_heads = kHq, .num_kv_heads = kHkv, .head_dim = kDim, .scale = 0.0883883f};
  Tensor norm_w = b.random(DType::kBF16, {kHidden});
  Tensor inv_freq = be.alloc(DType::kF32, {kDim / 2});
  {
    std::vector<float> f(kDim / 2);
    for (int i = 0; i < kDim / 2; ++i) f[i] = float(std::pow(1e6, -2.0 * i / kDim));
    be.copy_from_host(inv_freq, f.data());
  }
  Tensor table = b.random(DType::kBF16, {kVocab, kHidden});
  for (int t : {1, 64, 2048}) {
    const std::string tok = "T=" + std::to_string(t);
    Tensor x = b.random(DType::kBF16, {t, kHidden}), res = b.random(DType::kBF16, {t, kHidden});
    Tensor out = be.alloc(DType::kBF16, {t, kHidden});
    double us = b.time_us([&](int) { be.rms_norm(x, norm_w, 1e-6f, out); });
    b.add("rms_norm", tok + " H=3584", us, 2.0 * 2 * t * kHidden, 0);
    us = b.time_us([&](int) { be.add_rms_norm(res, x, norm_w, 1e-6f, out); });
    b.add("add_rms_norm", tok + " H=3584", us, 2.0 * 4 * t * kHidden, 0);

    Tensor gate_up = b.random(DType::kBF16, {t, 2 * kInter}), act = be.alloc(DType::kBF16, {t, kInter});
    us = b.time_us([&](int) { be.act_mul(gate_up, act, Activation::kSilu); });
    b.add("silu_mul", tok + " I=18944", us, 2.0 * 3 * t * kInter, 0);

    std::vector<int32_t> ids(t), positions(t), slots(t);
    for (int i = 0; i < t; ++i) {
      ids[i] = (i * 7919) % kVocab;
      positions[i] = 1000 + i;
      slots[i] = i;
    }
    auto i32 = [&](const std::vector<int32_t>& v) {
      Tensor h = host_tensor(DType::kI32, {int64_t(v.size())});
      std::memcpy(h.data, v.data(), v.size() * 4);
      return be.upload(h, DType::kI32);
    };
    Tensor ids_t = i32(ids), pos_t = i32(positions), slot_t = i32(slots);
    us = b.time_us([&](int) { be.embedding(ids_t, table, out); });
    b.add("embedding", tok + " H=3584", us, 2.0 * 2 * t * kHidden, 0);

    const int width = (kHq + 2 * kHkv) * kDim, blocks = (t + kBlock - 1) / kBlock;
    Tensor qkv = b.random(DType::kBF16, {t, width}), q = be.alloc(DType::kBF16, {t, kHq * kDim});
    KvCacheLayer cache{be.alloc(DType::kBF16, {blocks, kBlock, kHkv, kDim}),
                       be.alloc(DType::kBF16, {blocks, kBlock, kHkv, kDim})};
    us = b.time_us([&](int) { be.rope_kv_write(qkv, pos_t, slot_t, RopeParams{inv_freq, 1.0f}, shape, cache, q); });
    b.add("rope_kv_write", tok, us, 2.0 * 2 * t * width, 0);
  }
}

// Copy-on-write copies of N blocks in all 28 layers' K and V (one launch).
void bench_copy_blocks(Bench& b) {
  CudaBackend& be = b.be();
  constexpr int kBlocks = 256;
  std::vector<KvCacheLayer> cache;
  for (int l = 0; l < kLayers; ++l)
    cache.push_back(
        {be.alloc(DType::kBF16, {kBlocks, kBlock, kHkv, kDim}), be.alloc(DType::kBF16, {kBlocks, kBlock, kHkv, kDim})});
  const double block_bytes = 2.0 * kBlock * kHkv * kDim;
  for (int n : {1, 8, 64}) {
    std::vector<int32_t> pairs;
    for (int i = 0; i < n; ++i) pairs.insert(pairs.end(), {i, kBlocks / 2 + i});
    Tensor h = host_tensor(DType::kI32, {n, 2});
    std::memcpy(h.data, pairs.data(), pairs.size() * 4);
    Tensor copies = be.upload(h, DType::kI32);
    const double us = b.time_us([&](int) { be.copy_blocks(cache, copies); });
    b.add("copy_blocks", "N=" + std::to_string(n) + " x 28 layers K+V", us, 2.0 * n * 2 * kLayers * block_bytes, 0);
  }
}

// Structured output's bitmask over 64 rows of Qwen2.5-7B logits (152,064 columns), one
// mask row per logits row: reads the masks and rewrites the forbidden columns.
void bench_mask_logits(Bench& b) {
  CudaBackend& be = b.be();
  constexpr int kRows = 64, kVocab = 152064, kWords = kVocab / 32;
  Tensor logits = b.random(DType::kF32, {kRows, kVocab});
  std::vector<int32_t> rows(kRows), masks(size_t(kRows) * kWords);
  for (int i = 0; i < kRows; ++i) rows[size_t(i)] = i;
  for (size_t i = 0; i < masks.size(); ++i) masks[i] = int32_t(0x55555555u);  // every other column
  Tensor h_rows = host_tensor(DType::kI32, {kRows}), h_masks = host_tensor(DType::kI32, {kRows, kWords});
  std::memcpy(h_rows.data, rows.data(), rows.size() * 4);
  std::memcpy(h_masks.data, masks.data(), masks.size() * 4);
  Tensor d_rows = be.upload(h_rows, DType::kI32), d_masks = be.upload(h_masks, DType::kI32);
  const double us = b.time_us([&](int) { be.mask_logits(logits, d_rows, d_masks); });
  b.add("mask_logits", "64 rows x V=152064", us, double(kRows) * kWords * 4 + double(kRows) * kVocab * 4 / 2, 0);
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace
}  // namespace tern

int main(int argc, char** argv) {
  using namespace tern;
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s OUT.json [label [groups]] | %s --profile\n"
                 "  groups: comma-separated subset of gemm,int4,int4split,fp8,attention,small,copy (default: all\n"
                 "  but int4split, the K-split sweep of the INT4 GEMM)\n",
                 argv[0], argv[0]);
    return 2;
  }
  Bench b;
  if (std::string(argv[1]) == "--profile") {
    profile_kernels(b);
    return 0;
  }
  cudaDeviceProp props{};
  check(cudaGetDeviceProperties(&props, b.be().device_index()), "properties");
  b.bandwidth_ = b.copy_bandwidth();
  std::printf("%s, %d SMs, L2 %d MiB; device-to-device copy %.0f GB/s (read + write)\n", props.name,
              props.multiProcessorCount, props.l2CacheSize >> 20, b.bandwidth_ / 1e9);
  const std::string groups = argc > 3 ? "," + std::string(argv[3]) + "," : ",gemm,int4,fp8,attention,small,copy,";
  auto wanted = [&](const char* group) { return groups.find("," + std::string(group) + ",") != std::string::npos; };
  if (wanted("gemm")) bench_gemms(b);
  if (wanted("int4")) bench_int4_gemms(b);
  if (wanted("int4split")) bench_int4_splits(b);
  if (wanted("fp8")) bench_fp8_gemms(b);
  if (wanted("attention")) bench_attention(b);
  if (wanted("small")) bench_small_ops(b);
  if (wanted("copy")) bench_copy_blocks(b);
  if (wanted("small")) bench_mask_logits(b);

  std::ofstream out(argv[1]);
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  out << "{\n  \"device\": \"" << json_escape(props.name) << "\",\n  \"label\": \""
      << json_escape(argc > 2 ? argv[2] : "") << "\",\n  \"date\": \"" << date
      << "\",\n  \"copy_bandwidth_gbps\": " << b.bandwidth_ / 1e9
      << ",\n  \"bf16_peak_tflops_assumed\": " << kBf16PeakFlops / 1e12
      << ",\n  \"fp8_peak_tflops_assumed\": " << kFp8PeakFlops / 1e12 << ",\n  \"results\": [\n";
  for (size_t i = 0; i < b.records_.size(); ++i) {
    const Record& r = b.records_[i];
    out << "    {\"op\": \"" << json_escape(r.op) << "\", \"shape\": \"" << json_escape(r.shape)
        << "\", \"us\": " << r.us << ", \"floor_us\": " << r.floor_us << ", \"bound\": \"" << r.bound
        << "\", \"achieved\": " << r.achieved << ", \"achieved_unit\": \"" << (r.bound == "memory" ? "GB/s" : "TFLOP/s")
        << "\"}" << (i + 1 < b.records_.size() ? ",\n" : "\n");
  }
  out << "  ]\n}\n";
  std::printf("wrote %s\n", argv[1]);
  return 0;
}
