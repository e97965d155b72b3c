#include "op_test_support.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <sstream>

#include "tensor/dtype.h"

namespace tern::test {
namespace {

constexpr size_t kGuardBytes = 4096;
constexpr uint8_t kGuardByte = 0xA5;

Tensor with_shape(Tensor t, std::initializer_list<int64_t> shape) {
  t.ndim = int(shape.size());
  int i = 0;
  for (int64_t d : shape) t.shape[i++] = d;
  return t;
}

}  // namespace

Backend& cpu() {
  static std::unique_ptr<Backend> backend = make_backend("cpu");
  return *backend;
}

Backend& cuda() {
  static std::unique_ptr<Backend> backend = make_backend("cuda");
  return *backend;
}

std::mt19937 rng_for_test() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "none";
  return std::mt19937(uint32_t(std::hash<std::string>{}(name)));
}

std::vector<float> random_bf16(size_t n, std::mt19937& rng, float scale) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = bf16_to_f32(f32_to_bf16(dist(rng)));
  return v;
}

std::vector<float> round_bf16(std::vector<float> values) {
  for (float& x : values) x = bf16_to_f32(f32_to_bf16(x));
  return values;
}

Tensor host_f32(const std::vector<float>& values, std::initializer_list<int64_t> shape) {
  Tensor t = host_tensor(DType::kF32, shape);
  EXPECT_EQ(size_t(t.numel()), values.size());
  std::memcpy(t.data, values.data(), values.size() * sizeof(float));
  return t;
}

Tensor host_i32(const std::vector<int32_t>& values, std::initializer_list<int64_t> shape) {
  Tensor t = host_tensor(DType::kI32, shape);
  EXPECT_EQ(size_t(t.numel()), values.size());
  std::memcpy(t.data, values.data(), values.size() * sizeof(int32_t));
  return t;
}

Tensor on_cpu(const std::vector<float>& values, std::initializer_list<int64_t> shape) {
  return cpu().upload(host_f32(values, shape), DType::kF32);
}

Tensor on_cuda(const std::vector<float>& values, std::initializer_list<int64_t> shape, DType cuda_dtype) {
  return cuda().upload(host_f32(values, shape), cuda_dtype);
}

Tensor i32_on(Backend& backend, const std::vector<int32_t>& values, std::initializer_list<int64_t> shape) {
  return backend.upload(host_i32(values, shape), DType::kI32);
}

GuardedOutput guarded_cuda_output(DType dtype, std::initializer_list<int64_t> shape) {
  Tensor probe = make_view(nullptr, dtype, Device::kCuda, shape);
  const size_t bytes = probe.nbytes();
  GuardedOutput out;
  out.storage = cuda().alloc(DType::kU8, {int64_t(bytes + kGuardBytes)});
  out.tensor = with_shape(out.storage, shape);
  out.tensor.dtype = dtype;
  std::vector<uint8_t> init(bytes + kGuardBytes, 0xFF);
  std::memset(init.data() + bytes, kGuardByte, kGuardBytes);
  cuda().copy_from_host(out.storage, init.data());
  return out;
}

void expect_guard_intact(const GuardedOutput& out, const std::string& what) {
  std::vector<uint8_t> bytes = download_bytes(cuda(), out.storage);
  const size_t begin = out.tensor.nbytes();
  for (size_t i = begin; i < bytes.size(); ++i) {
    if (bytes[i] != kGuardByte) {
      ADD_FAILURE() << what << ": guard byte " << (i - begin) << " after the output was overwritten (0x" << std::hex
                    << int(bytes[i]) << ")";
      return;
    }
  }
}

std::vector<uint8_t> download_bytes(Backend& backend, const Tensor& t) {
  std::vector<uint8_t> bytes(t.nbytes());
  backend.copy_to_host(t, bytes.data());
  return bytes;
}

std::vector<float> download(Backend& backend, const Tensor& t) {
  std::vector<uint8_t> bytes = download_bytes(backend, t);
  std::vector<float> v(size_t(t.numel()));
  if (t.dtype == DType::kF32) {
    std::memcpy(v.data(), bytes.data(), bytes.size());
  } else if (t.dtype == DType::kBF16) {
    for (size_t i = 0; i < v.size(); ++i) {
      uint16_t h;
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      v[i] = bf16_to_f32(h);
    }
  } else {
    ADD_FAILURE() << "download: unexpected dtype " << dtype_name(t.dtype);
  }
  return v;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, double tolerance,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double err = 0.0, norm = 0.0, worst = -1.0;
  size_t worst_at = 0, non_finite = 0, first_non_finite = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) {
      if (non_finite++ == 0) first_non_finite = i;
      continue;
    }
    const double d = double(got[i]) - double(want[i]);
    err += d * d;
    norm += double(want[i]) * double(want[i]);
    if (std::fabs(d) > worst) {
      worst = std::fabs(d);
      worst_at = i;
    }
  }
  EXPECT_EQ(non_finite, 0u) << what << ": " << non_finite << " of " << got.size()
                            << " values are NaN/Inf (unwritten or overflowed), the first at " << first_non_finite;
  const double rel = norm > 0 ? std::sqrt(err / norm) : std::sqrt(err);
  EXPECT_LE(rel, tolerance) << what << ": relative L2 error " << rel << "; worst element " << worst_at << " got "
                            << got[worst_at] << " want " << want[worst_at];
}

std::vector<uint8_t> random_e4m3_codes(size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> dist(0, 253);
  std::vector<uint8_t> codes(n);
  for (uint8_t& c : codes) {
    const int i = dist(rng);           // 0..126 positive, 127..253 negative
    c = uint8_t(i < 127 ? i : i + 1);  // skips 0x7F; 0xFF is never reached
  }
  return codes;
}

Tensor e4m3_on(Backend& backend, const std::vector<uint8_t>& codes, std::initializer_list<int64_t> shape) {
  Tensor t = backend.alloc(DType::kF8E4M3, shape);
  EXPECT_EQ(size_t(t.numel()), codes.size());
  backend.copy_from_host(t, codes.data());
  return t;
}

}  // namespace tern::test
