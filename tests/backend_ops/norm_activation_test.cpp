// rms_norm, add_rms_norm and act_mul (SiLU, GELU, GELU tanh) against the CPU: odd widths
// (vector and scalar paths), BF16 and F32 norm weights, and the fused residual written back rounded.
#include <gtest/gtest.h>

#include "op_test_support.h"
#include "tensor/dtype.h"

namespace tern::test {
namespace {

constexpr double kBf16Tolerance = 1e-2;

struct NormCase {
  int rows, cols;
  DType weight_dtype;
};

class RmsNorm : public ::testing::TestWithParam<NormCase> {};

TEST_P(RmsNorm, MatchesCpu) {
  const NormCase c = GetParam();
  std::mt19937 rng = rng_for_test();
  std::vector<float> x = random_bf16(size_t(c.rows) * c.cols, rng, 3.0f);
  std::vector<float> w = random_bf16(size_t(c.cols), rng, 2.0f);
  const float eps = 1e-6f;
  Tensor ref = cpu().alloc(DType::kF32, {c.rows, c.cols});
  cpu().rms_norm(on_cpu(x, {c.rows, c.cols}), on_cpu(w, {c.cols}), eps, ref);
  GuardedOutput out = guarded_cuda_output(DType::kBF16, {c.rows, c.cols});
  cuda().rms_norm(on_cuda(x, {c.rows, c.cols}), on_cuda(w, {c.cols}, c.weight_dtype), eps, out.tensor);
  expect_close(download(cuda(), out.tensor), download(cpu(), ref), kBf16Tolerance, "rms_norm");
  expect_guard_intact(out, "rms_norm");
}

TEST_P(RmsNorm, AddRmsNormMatchesCpuAndWritesTheRoundedSum) {
  const NormCase c = GetParam();
  std::mt19937 rng = rng_for_test();
  std::vector<float> residual = random_bf16(size_t(c.rows) * c.cols, rng, 3.0f);
  std::vector<float> x = random_bf16(size_t(c.rows) * c.cols, rng, 3.0f);
  std::vector<float> w = random_bf16(size_t(c.cols), rng, 2.0f);
  const float eps = 1e-5f;
  Tensor ref_residual = on_cpu(residual, {c.rows, c.cols});
  Tensor ref = cpu().alloc(DType::kF32, {c.rows, c.cols});
  cpu().add_rms_norm(ref_residual, on_cpu(x, {c.rows, c.cols}), on_cpu(w, {c.cols}), eps, ref);
  Tensor got_residual = on_cuda(residual, {c.rows, c.cols});
  GuardedOutput out = guarded_cuda_output(DType::kBF16, {c.rows, c.cols});
  cuda().add_rms_norm(got_residual, on_cuda(x, {c.rows, c.cols}), on_cuda(w, {c.cols}, c.weight_dtype), eps,
                      out.tensor);
  expect_close(download(cuda(), out.tensor), download(cpu(), ref), kBf16Tolerance, "add_rms_norm");
  // Both sides add in F32 and round that sum to BF16 once, so the bits must agree.
  EXPECT_EQ(download(cuda(), got_residual), round_bf16(download(cpu(), ref_residual)));
  expect_guard_intact(out, "add_rms_norm");
}

INSTANTIATE_TEST_SUITE_P(Shapes, RmsNorm,
                         ::testing::Values(NormCase{1, 96, DType::kBF16}, NormCase{7, 200, DType::kF32},
                                           NormCase{33, 37, DType::kBF16}, NormCase{5, 3584, DType::kBF16},
                                           NormCase{3, 8200, DType::kF32}));

TEST(RmsNormInPlace, OutMayBeTheInput) {
  std::mt19937 rng = rng_for_test();
  std::vector<float> x = random_bf16(9 * 200, rng, 3.0f), w = random_bf16(200, rng);
  Tensor ref = cpu().alloc(DType::kF32, {9, 200});
  cpu().rms_norm(on_cpu(x, {9, 200}), on_cpu(w, {200}), 1e-6f, ref);
  Tensor inout = on_cuda(x, {9, 200});
  cuda().rms_norm(inout, on_cuda(w, {200}), 1e-6f, inout);
  expect_close(download(cuda(), inout), download(cpu(), ref), kBf16Tolerance, "rms_norm in place");
}

struct ActCase {
  int rows, cols;
  Activation act;
};

class ActMul : public ::testing::TestWithParam<ActCase> {};

TEST_P(ActMul, MatchesCpu) {
  const ActCase c = GetParam();
  std::mt19937 rng = rng_for_test();
  std::vector<float> gate_up = random_bf16(size_t(c.rows) * 2 * c.cols, rng, 6.0f);
  Tensor ref = cpu().alloc(DType::kF32, {c.rows, c.cols});
  cpu().act_mul(on_cpu(gate_up, {c.rows, 2 * c.cols}), ref, c.act);
  GuardedOutput out = guarded_cuda_output(DType::kBF16, {c.rows, c.cols});
  cuda().act_mul(on_cuda(gate_up, {c.rows, 2 * c.cols}), out.tensor, c.act);
  expect_close(download(cuda(), out.tensor), download(cpu(), ref), kBf16Tolerance, "act_mul");
  expect_guard_intact(out, "act_mul");
}

// Odd widths take the scalar path, multiples of 8 the vector one; every activation both.
INSTANTIATE_TEST_SUITE_P(Shapes, ActMul,
                         ::testing::Values(ActCase{1, 96, Activation::kSilu}, ActCase{5, 100, Activation::kSilu},
                                           ActCase{17, 37, Activation::kSilu}, ActCase{3, 18944, Activation::kSilu},
                                           ActCase{1, 96, Activation::kGelu}, ActCase{17, 37, Activation::kGelu},
                                           ActCase{3, 18944, Activation::kGelu}, ActCase{1, 96, Activation::kGeluTanh},
                                           ActCase{17, 37, Activation::kGeluTanh},
                                           ActCase{3, 18944, Activation::kGeluTanh}));

TEST(NormErrors, RejectAMismatchedWeight) {
  Tensor x = on_cuda(std::vector<float>(20, 1.0f), {2, 10});
  Tensor out = cuda().alloc(DType::kBF16, {2, 10});
  EXPECT_THROW(cuda().rms_norm(x, on_cuda(std::vector<float>(9, 1.0f), {9}), 1e-6f, out), Error);
  EXPECT_THROW(
      cuda().rms_norm(x, on_cuda(std::vector<float>(10, 1.0f), {10}), 1e-6f, cuda().alloc(DType::kF32, {2, 10})),
      Error);
}

}  // namespace
}  // namespace tern::test
