// What every CUDA-vs-CPU op test needs: the two backends, seeded random inputs rounded
// to BF16 (so both backends see identical values), outputs poisoned with NaN and followed
// by guard bytes, and a relative-error comparison that also counts NaN/Inf.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "base/error.h"

namespace tern::test {

// Made once per process. cuda() is the backend under test, cpu() the reference.
Backend& cpu();
Backend& cuda();

// A generator seeded from the running test's name, so each test draws its own inputs
// and a failure reproduces.
std::mt19937 rng_for_test();

// n values uniform in [-scale, scale], rounded to BF16.
std::vector<float> random_bf16(size_t n, std::mt19937& rng, float scale = 1.0f);

Tensor host_f32(const std::vector<float>& values, std::initializer_list<int64_t> shape);
Tensor host_i32(const std::vector<int32_t>& values, std::initializer_list<int64_t> shape);

// The same host values on a backend: F32 on the CPU, `cuda_dtype` (BF16 by default) on CUDA.
Tensor on_cpu(const std::vector<float>& values, std::initializer_list<int64_t> shape);
Tensor on_cuda(const std::vector<float>& values, std::initializer_list<int64_t> shape, DType cuda_dtype = DType::kBF16);
Tensor i32_on(Backend& backend, const std::vector<int32_t>& values, std::initializer_list<int64_t> shape);

// A CUDA output tensor followed by guard bytes. The tensor starts as all-0xFF bytes (NaN
// in BF16 and F32), so any element the op fails to write is caught as non-finite; the
// guard starts as a fixed pattern that must survive the op.
struct GuardedOutput {
  Tensor tensor;   // the shape asked for
  Tensor storage;  // the whole allocation: tensor bytes, then guard bytes
};
GuardedOutput guarded_cuda_output(DType dtype, std::initializer_list<int64_t> shape);
// Fails the current test if any guard byte changed.
void expect_guard_intact(const GuardedOutput& out, const std::string& what);

// A BF16 or F32 tensor of either backend, as floats.
std::vector<float> download(Backend& backend, const Tensor& t);
// Raw bytes of a tensor of either backend.
std::vector<uint8_t> download_bytes(Backend& backend, const Tensor& t);

// Fails the current test unless every value of `got` is finite and
// ||got - want|| / ||want|| <= tolerance; the message names `what`, the error and the
// worst element.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double tolerance,
                  const std::string& what);

// Values rounded to BF16, as the CUDA backend stores them.
std::vector<float> round_bf16(std::vector<float> values);

// n e4m3 codes drawn uniformly from the 254 finite ones (every exponent, subnormals and
// both zeros included; never the NaN codes 0x7F and 0xFF).
std::vector<uint8_t> random_e4m3_codes(size_t n, std::mt19937& rng);
// An F8E4M3 tensor holding `codes` on either backend.
Tensor e4m3_on(Backend& backend, const std::vector<uint8_t>& codes, std::initializer_list<int64_t> shape);

}  // namespace tern::test
