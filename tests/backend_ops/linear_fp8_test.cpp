// FP8 (W8A8) linear against the CPU reference: channel weights (quantize_fp8) with
// per-token, static and per-token-group activations, 128x128 block weights with
// 128-column groups, per-token and static activations, and 64x32 blocks; M from 1 to 300
// (the GEMV, the GEMV in 16-token tiles, cuBLASLt's outer-vector and block modes), Qwen
// shapes and odd ones (N and K not multiples of 16, odd K), BF16 and F32 outputs with and
// without bias. Also: the activation quantiser gives the CPU's codes and scales bit for
// bit, GEMV outputs depend only on their own token, repeated calls are bit-identical, a
// graph-captured FP8 linear replays to the same bits, and weights not uploaded with
// upload_fp8 or mismatched shapes are refused.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/fp8_quantize.cuh"
#include "op_test_support.h"
#include "quant/fp8_weight.h"

namespace tern::test {
namespace {

enum class Scheme {
  kChannel,          // quantize_fp8: channel scales, per-token activations
  kChannelStatic,    // channel scales, a static input scale that saturates the largest inputs
  kChannelGroups64,  // channel scales, per-token-group activations of 64 columns
  kBlocks128,        // 128x128 blocks, groups of 128 columns (DeepSeek-style checkpoints)
  kBlocks128Token,   // 128x128 blocks, per-token activations
  kBlocks128Static,  // 128x128 blocks, a static input scale
  kBlocks64x32,      // 64x32 blocks, groups of 32 columns: no cuBLASLt mode
};

const char* name_of(Scheme s) {
  switch (s) {
    case Scheme::kChannel:
      return "channel";
    case Scheme::kChannelStatic:
      return "channel+static";
    case Scheme::kChannelGroups64:
      return "channel+groups64";
    case Scheme::kBlocks128:
      return "blocks128+groups128";
    case Scheme::kBlocks128Token:
      return "blocks128+token";
    case Scheme::kBlocks128Static:
      return "blocks128+static";
    case Scheme::kBlocks64x32:
      return "blocks64x32+groups32";
  }
  return "?";
}

struct Fp8Case {
  int m, k, n;
  Scheme scheme;
  DType out_dtype;
  bool bias;
};

std::string describe(const Fp8Case& c) {
  return std::string("fp8 linear ") + name_of(c.scheme) + " m=" + std::to_string(c.m) + " k=" + std::to_string(c.k) +
         " n=" + std::to_string(c.n) + (c.out_dtype == DType::kF32 ? " F32" : " BF16") + (c.bias ? " +bias" : "");
}

// Values whose magnitude changes from row to row and from 64-column group to group, so that
// a scale read for the wrong row, token, group or block shows in the result.
std::vector<float> uneven_bf16(int rows, int cols, std::mt19937& rng) {
  std::vector<float> v = random_bf16(size_t(rows) * cols, rng);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) v[size_t(r) * cols + c] *= float(1 + r % 7) * float(1 + (c / 64) % 4);
  return round_bf16(v);
}

// A static input scale that leaves the top fifth of |x| saturated at +-448.
float saturating_input_scale(const std::vector<float>& x) {
  float amax = 0.0f;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  return 0.8f * amax / kE4m3Max;
}

Fp8Weight make_weight(Scheme scheme, int n, int k, const std::vector<float>& x, std::mt19937& rng) {
  const Tensor w = host_f32(uneven_bf16(n, k, rng), {n, k});
  Fp8Weight q;
  switch (scheme) {
    case Scheme::kChannel:
    case Scheme::kChannelStatic:
    case Scheme::kChannelGroups64:
      q = quantize_fp8(w);
      break;
    case Scheme::kBlocks128:
    case Scheme::kBlocks128Token:
    case Scheme::kBlocks128Static:
      q = quantize_fp8(w, 128, 128);
      break;
    case Scheme::kBlocks64x32:
      q = quantize_fp8(w, 64, 32);
      break;
  }
  q.activations = Fp8Activations::kPerToken;
  q.activation_group = 0;
  if (scheme == Scheme::kChannelStatic || scheme == Scheme::kBlocks128Static) {
    q.activations = Fp8Activations::kStatic;
    q.input_scale = saturating_input_scale(x);
  } else if (scheme == Scheme::kChannelGroups64 || scheme == Scheme::kBlocks128 || scheme == Scheme::kBlocks64x32) {
    q.activations = Fp8Activations::kPerTokenGroup;
    q.activation_group = scheme == Scheme::kChannelGroups64 ? 64 : q.block_cols;
  }
  validate_fp8(q, describe({0, k, n, scheme, DType::kBF16, false}));
  return q;
}

class LinearFp8 : public ::testing::TestWithParam<Fp8Case> {};

TEST_P(LinearFp8, MatchesCpu) {
  const Fp8Case c = GetParam();
  std::mt19937 rng = rng_for_test();
  // x is BF16-rounded, so both backends quantise the same values.
  const std::vector<float> x = uneven_bf16(c.m, c.k, rng);
  const std::vector<float> b = random_bf16(size_t(c.n), rng);
  const Fp8Weight host = make_weight(c.scheme, c.n, c.k, x, rng);
  LinearWeight ref_w{.weight = {}, .bias = c.bias ? on_cpu(b, {c.n}) : Tensor{}, .int4 = {}, .fp8 = host};
  Tensor ref = cpu().alloc(DType::kF32, {c.m, c.n});
  cpu().linear(on_cpu(x, {c.m, c.k}), ref_w, ref);

  LinearWeight got_w{.weight = {},
                     .bias = c.bias ? on_cuda(b, {c.n}, c.out_dtype) : Tensor{},
                     .int4 = {},
                     .fp8 = cuda().upload_fp8(host)};
  GuardedOutput out = guarded_cuda_output(c.out_dtype, {c.m, c.n});
  cuda().linear(on_cuda(x, {c.m, c.k}), got_w, out.tensor);
  // Both backends quantise the same BF16 inputs to the same codes and scales (tested bit for
  // bit below) and multiply the same e4m3 weights, so an F32 output differs only by the
  // order of F32 sums and where the scales multiply: the CPU scales every element, the GEMV
  // each row's or chunk's sums; cuBLASLt's FP8 tensor cores promote partial sums to F32
  // every few k steps, a few parts in 1e5 of the dot products. A BF16 output adds its own
  // rounding (2^-9 relative).
  const double tolerance = c.out_dtype == DType::kBF16 ? 1e-2 : 1e-3;
  expect_close(download(cuda(), out.tensor), download(cpu(), ref), tolerance, describe(c));
  expect_guard_intact(out, describe(c));
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearFp8,
                         ::testing::Values(
                             // GEMV (M <= 16), uniform scales: the Qwen2.5-7B qkv and down shapes at batch 1.
                             Fp8Case{1, 3584, 4608, Scheme::kChannel, DType::kBF16, true},
                             Fp8Case{1, 18944, 256, Scheme::kChannel, DType::kF32, false},
                             Fp8Case{2, 3584, 512, Scheme::kChannelStatic, DType::kF32, true},
                             Fp8Case{7, 1024, 384, Scheme::kChannel, DType::kBF16, false},
                             Fp8Case{16, 2048, 256, Scheme::kChannel, DType::kF32, true},
                             // GEMV, scales per 16-column chunk: groups and blocks.
                             Fp8Case{1, 18944, 256, Scheme::kBlocks128, DType::kBF16, true},
                             Fp8Case{7, 1024, 384, Scheme::kBlocks128, DType::kBF16, false},
                             Fp8Case{2, 640, 272, Scheme::kBlocks128Token, DType::kF32, true},
                             Fp8Case{16, 1024, 512, Scheme::kChannelGroups64, DType::kF32, true},
                             Fp8Case{7, 384, 200, Scheme::kBlocks64x32, DType::kF32, false},
                             Fp8Case{3, 512, 130, Scheme::kBlocks128Static, DType::kBF16,
                                     true},  // N not a multiple of 16
                             // GEMV byte by byte: K not a multiple of 16, odd K (the quantiser's scalar path too).
                             Fp8Case{5, 200, 96, Scheme::kChannelGroups64, DType::kBF16, true},
                             Fp8Case{2, 97, 33, Scheme::kChannel, DType::kBF16, true},
                             Fp8Case{3, 200, 136, Scheme::kBlocks128, DType::kF32, true},
                             // cuBLASLt, outer vectors (channel x token scales); BF16 bias in the epilogue, F32
                             // bias added after.
                             Fp8Case{17, 1024, 512, Scheme::kChannel, DType::kBF16, true},
                             Fp8Case{64, 3584, 512, Scheme::kChannel, DType::kF32, true},
                             Fp8Case{64, 1024, 256, Scheme::kChannelStatic, DType::kBF16, true},
                             Fp8Case{300, 1024, 384, Scheme::kChannel, DType::kBF16, false},
                             // cuBLASLt, 128x128 blocks x 128-column activation scales (M not a multiple of 4 too).
                             Fp8Case{17, 1024, 512, Scheme::kBlocks128, DType::kBF16, true},
                             Fp8Case{64, 3584, 512, Scheme::kBlocks128, DType::kF32, true},
                             Fp8Case{64, 512, 272, Scheme::kBlocks128, DType::kBF16, true},  // a partial block row
                             Fp8Case{300, 512, 256, Scheme::kBlocks128Token, DType::kBF16, true},
                             Fp8Case{17, 640, 128, Scheme::kBlocks128Static, DType::kF32, true},
                             // No cuBLASLt mode: the GEMV in 16-token tiles.
                             Fp8Case{64, 1024, 256, Scheme::kChannelGroups64, DType::kBF16, false},
                             Fp8Case{64, 384, 320, Scheme::kBlocks64x32, DType::kBF16, true},
                             Fp8Case{33, 200, 100, Scheme::kChannel, DType::kF32, true},
                             Fp8Case{300, 256, 130, Scheme::kBlocks128, DType::kBF16, true}));

// The quantiser against fake_quantize_fp8_activations: identical codes and scales, so
// the two backends multiply identical numbers.
struct QuantizeCase {
  int m, k;
  Fp8Activations activations;
  int group;
};

class Fp8Quantize : public ::testing::TestWithParam<QuantizeCase> {};

TEST_P(Fp8Quantize, GivesTheCpuCodesAndScales) {
  const QuantizeCase c = GetParam();
  auto& be = dynamic_cast<CudaBackend&>(cuda());
  std::mt19937 rng = rng_for_test();
  std::vector<float> x = uneven_bf16(c.m, c.k, rng);
  x[0] = 0.0f;  // zeros and a saturating value
  Fp8Weight q;
  q.values = host_tensor(DType::kF8E4M3, {1, c.k});
  q.activations = c.activations;
  q.activation_group = c.group;
  q.input_scale = saturating_input_scale(x);
  const int64_t group = c.activations == Fp8Activations::kPerTokenGroup ? std::min(c.group, c.k) : c.k;
  const int64_t slots = (c.k + group - 1) / group;
  Tensor codes = be.alloc(DType::kU8, {c.m, c.k}), scales = be.alloc(DType::kF32, {slots, c.m});
  const Tensor input = on_cuda(x, {c.m, c.k});
  cuda::launch_fp8_quantize({.m = c.m,
                             .k = c.k,
                             .x = input.data,
                             .group = group,
                             .static_scale = c.activations == Fp8Activations::kStatic ? q.input_scale : 0.0f,
                             .slot_cols = group,
                             .xq = codes.data,
                             .scales = scales.ptr<float>()},
                            be.stream());
  const std::vector<uint8_t> got_codes = download_bytes(be, codes);
  const std::vector<float> got_scales = download(be, scales);
  std::vector<float> want(size_t(c.k));
  for (int t = 0; t < c.m; ++t) {
    fake_quantize_fp8_activations(q, x.data() + size_t(t) * c.k, want.data());
    for (int i = 0; i < c.k; ++i) {
      const float s = got_scales[size_t(i / group) * c.m + t];
      const float got = e4m3_to_f32(got_codes[size_t(t) * c.k + i]) * s;
      ASSERT_EQ(got, want[size_t(i)]) << "token " << t << " column " << i << " code "
                                      << int(got_codes[size_t(t) * c.k + i]) << " scale " << s;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Schemes, Fp8Quantize,
                         ::testing::Values(QuantizeCase{5, 3584, Fp8Activations::kPerToken, 0},
                                           QuantizeCase{3, 18944, Fp8Activations::kPerToken, 0},
                                           QuantizeCase{4, 1024, Fp8Activations::kPerTokenGroup, 128},
                                           QuantizeCase{2, 200, Fp8Activations::kPerTokenGroup,
                                                        64},  // a short last group
                                           QuantizeCase{3, 97, Fp8Activations::kPerTokenGroup, 32},  // scalar path
                                           QuantizeCase{2, 97, Fp8Activations::kPerToken, 0},
                                           QuantizeCase{4, 1024, Fp8Activations::kStatic, 0}));

TEST(LinearFp8Rows, EachGemvOutputDependsOnlyOnItsToken) {
  // Permuting the tokens of x permutes the output rows bit for bit.
  const int m = 12, k = 1024, n = 384;
  std::mt19937 rng = rng_for_test();
  const std::vector<float> x = uneven_bf16(m, k, rng);
  std::vector<int> perm(m);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<float> x_perm(x.size());
  for (int r = 0; r < m; ++r) std::copy_n(x.begin() + size_t(perm[r]) * k, k, x_perm.begin() + size_t(r) * k);
  LinearWeight weight{
      .weight = {}, .bias = {}, .int4 = {}, .fp8 = cuda().upload_fp8(make_weight(Scheme::kBlocks128, n, k, x, rng))};
  Tensor a = cuda().alloc(DType::kBF16, {m, n}), b = cuda().alloc(DType::kBF16, {m, n});
  cuda().linear(on_cuda(x, {m, k}), weight, a);
  cuda().linear(on_cuda(x_perm, {m, k}), weight, b);
  const std::vector<float> out_a = download(cuda(), a), out_b = download(cuda(), b);
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < n; ++j)
      ASSERT_EQ(out_b[size_t(r) * n + j], out_a[size_t(perm[r]) * n + j]) << "row " << r << " col " << j;
}

TEST(LinearFp8Repeat, RepeatedCallsAreBitIdentical) {
  std::mt19937 rng = rng_for_test();
  for (const int m : {3, 64}) {
    const int k = 3584, n = 512;
    const std::vector<float> x = uneven_bf16(m, k, rng);
    LinearWeight weight{
        .weight = {}, .bias = {}, .int4 = {}, .fp8 = cuda().upload_fp8(make_weight(Scheme::kChannel, n, k, x, rng))};
    const Tensor input = on_cuda(x, {m, k});
    Tensor out = cuda().alloc(DType::kF32, {m, n});
    cuda().linear(input, weight, out);
    const std::vector<float> want = download(cuda(), out);
    for (int i = 0; i < 3; ++i) {
      cuda().linear(input, weight, out);
      ASSERT_EQ(download(cuda(), out), want) << "m=" << m << " call " << i;
    }
  }
}

#define EXPECT_CUDA_OK(call) ASSERT_EQ((call), cudaSuccess) << #call

TEST(LinearFp8Graph, CapturedLinearReplaysBitIdentically) {
  // The GEMV (M = 4) and cuBLASLt (M = 64) paths: after a direct call has grown the
  // workspaces and built the plan, capture allocates nothing and the replay gives the
  // direct call's bits.
  auto& be = dynamic_cast<CudaBackend&>(cuda());
  std::mt19937 rng = rng_for_test();
  for (const int m : {4, 64}) {
    const int k = 1024, n = 512;
    const std::vector<float> x = uneven_bf16(m, k, rng);
    LinearWeight weight{.weight = {},
                        .bias = on_cuda(random_bf16(size_t(n), rng), {n}),
                        .int4 = {},
                        .fp8 = be.upload_fp8(make_weight(Scheme::kBlocks128, n, k, x, rng))};
    const Tensor input = on_cuda(x, {m, k});
    Tensor out = be.alloc(DType::kBF16, {m, n});
    be.linear(input, weight, out);
    const std::vector<uint8_t> direct = download_bytes(be, out);

    cudaGraph_t graph = nullptr;
    EXPECT_CUDA_OK(cudaStreamBeginCapture(be.stream(), cudaStreamCaptureModeGlobal));
    be.linear(input, weight, out);
    EXPECT_CUDA_OK(cudaStreamEndCapture(be.stream(), &graph));
    cudaGraphExec_t exec = nullptr;
    EXPECT_CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
    const std::vector<uint8_t> poison(direct.size(), 0xFF);
    be.copy_from_host(out, poison.data());
    EXPECT_CUDA_OK(cudaGraphLaunch(exec, be.stream()));
    be.synchronize();
    EXPECT_EQ(download_bytes(be, out), direct) << "m=" << m << ": graph replay differs from the direct run";
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
  }
}

TEST(LinearFp8Errors, RefusesAHostWeightAndMismatchedShapes) {
  std::mt19937 rng = rng_for_test();
  const std::vector<float> x(2 * 128, 0.5f);
  const Fp8Weight host = make_weight(Scheme::kBlocks128, 64, 128, x, rng);
  const Tensor input = on_cuda(x, {2, 128});
  LinearWeight raw{.weight = {}, .bias = {}, .int4 = {}, .fp8 = host};
  EXPECT_THROW(cuda().linear(input, raw, cuda().alloc(DType::kBF16, {2, 64})), Error);
  LinearWeight w{.weight = {}, .bias = {}, .int4 = {}, .fp8 = cuda().upload_fp8(host)};
  EXPECT_THROW(cuda().linear(input, w, cuda().alloc(DType::kBF16, {2, 63})), Error);
  EXPECT_THROW(
      cuda().linear(on_cuda(std::vector<float>(2 * 96, 0.5f), {2, 96}), w, cuda().alloc(DType::kBF16, {2, 64})), Error);
  w.bias = on_cuda(std::vector<float>(64, 1.0f), {64}, DType::kF32);
  EXPECT_THROW(cuda().linear(input, w, cuda().alloc(DType::kBF16, {2, 64})), Error);
}

}  // namespace
}  // namespace tern::test
