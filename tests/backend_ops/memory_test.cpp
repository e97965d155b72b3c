// The CUDA backend's memory calls: conversions on upload, blocking copies, fill_zero,
// and an out-of-memory error that says how much was asked and how much is free.
#include <gtest/gtest.h>

#include <cstring>

#include "op_test_support.h"
#include "tensor/dtype.h"

namespace tern::test {
namespace {

TEST(CudaMemory, UploadRoundsF32ToBf16LikeTheHost) {
  std::mt19937 rng = rng_for_test();
  std::uniform_real_distribution<float> dist(-100.0f, 100.0f);
  std::vector<float> values(1001);
  for (float& v : values) v = dist(rng);
  Tensor t = cuda().upload(host_f32(values, {7, 143}), DType::kBF16);
  EXPECT_EQ(t.dtype, DType::kBF16);
  EXPECT_EQ(t.device, Device::kCuda);
  EXPECT_EQ(t.ndim, 2);
  EXPECT_EQ(t.dim(1), 143);
  std::vector<uint8_t> bytes = download_bytes(cuda(), t);
  for (size_t i = 0; i < values.size(); ++i) {
    uint16_t h;
    std::memcpy(&h, bytes.data() + 2 * i, 2);
    ASSERT_EQ(h, f32_to_bf16(values[i])) << "element " << i;
  }
}

TEST(CudaMemory, UploadConvertsF16AndKeepsF32AndI32) {
  std::mt19937 rng = rng_for_test();
  std::vector<float> values = random_bf16(300, rng, 4.0f);
  Tensor f16 = host_tensor(DType::kF16, {300});
  for (size_t i = 0; i < values.size(); ++i) f16.ptr<uint16_t>()[i] = f32_to_f16(values[i]);
  std::vector<float> via_f16(values.size());
  for (size_t i = 0; i < values.size(); ++i) via_f16[i] = f16_to_f32(f32_to_f16(values[i]));
  EXPECT_EQ(download(cuda(), cuda().upload(f16, DType::kBF16)), round_bf16(via_f16));

  Tensor f32 = cuda().upload(host_f32(values, {300}), DType::kF32);
  EXPECT_EQ(f32.dtype, DType::kF32);
  EXPECT_EQ(download(cuda(), f32), values);

  std::vector<int32_t> ids = {3, -7, 1 << 30, 0, 42};
  Tensor i32 = cuda().upload(host_i32(ids, {5}), DType::kI32);
  std::vector<int32_t> back(5);
  cuda().copy_to_host(i32, back.data());
  EXPECT_EQ(back, ids);
  EXPECT_THROW(cuda().upload(host_i32(ids, {5}), DType::kBF16), Error);
}

TEST(CudaMemory, WeightsAreKeptInBf16) {
  EXPECT_EQ(cuda().activation_dtype(), DType::kBF16);
  EXPECT_EQ(cuda().weight_dtype(DType::kF32), DType::kBF16);
  EXPECT_EQ(cuda().weight_dtype(DType::kF16), DType::kBF16);
  EXPECT_EQ(cuda().weight_dtype(DType::kBF16), DType::kBF16);
}

TEST(CudaMemory, CopyRoundTripAndFillZero) {
  std::mt19937 rng = rng_for_test();
  std::vector<float> values = random_bf16(777, rng);
  Tensor t = cuda().alloc(DType::kF32, {777});
  cuda().copy_from_host(t, values.data());
  EXPECT_EQ(download(cuda(), t), values);
  cuda().fill_zero(t);
  EXPECT_EQ(download(cuda(), t), std::vector<float>(777, 0.0f));
}

TEST(CudaMemory, OutOfMemorySaysHowMuchWasAskedAndIsFree) {
  try {
    cuda().alloc(DType::kF32, {int64_t(1) << 40});  // 4 TiB
    FAIL() << "a 4 TiB allocation succeeded";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("out of memory"), std::string::npos) << message;
    EXPECT_NE(message.find("4194304 MiB"), std::string::npos) << message;
    EXPECT_NE(message.find("MiB free"), std::string::npos) << message;
  }
  // The failed allocation leaves the backend usable.
  Tensor t = cuda().alloc(DType::kF32, {16});
  cuda().fill_zero(t);
  cuda().synchronize();
}

}  // namespace
}  // namespace tern::test
