// Helpers shared by the quant_* tests: random INT4 weights, an AWQ packer written
// independently of the library (the library only reads AWQ), temporary folders, and
// the logits of a model folder on the CPU backend.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "base/error.h"
#include "model/load_model.h"
#include "model/safetensors.h"
#include "model/sequence_logits.h"
#include "quant/int4_weight.h"
#include "quant/packed_linear.h"
#include "tensor/dtype.h"

#include "forward_support.h"
#include "int4_random.h"
#include "test_support.h"

namespace tern::quant_test {

using testing::TempDir;

namespace fs = std::filesystem;
inline const fs::path kData = TERN_TEST_DATA;
inline const std::string kTinyQwen = (kData / "models" / "tiny-qwen2").string();

inline bool same_bytes(const Tensor& a, const Tensor& b) {
  if (a.empty() || b.empty()) return a.empty() == b.empty();
  return a.dtype == b.dtype && a.shape_str() == b.shape_str() && std::memcmp(a.data, b.data, a.nbytes()) == 0;
}

inline void expect_same_int4(const Int4Weight& a, const Int4Weight& b) {
  EXPECT_EQ(a.group_size, b.group_size);
  EXPECT_TRUE(same_bytes(a.codes, b.codes));
  EXPECT_TRUE(same_bytes(a.scales, b.scales));
  EXPECT_TRUE(same_bytes(a.zeros, b.zeros));
  EXPECT_TRUE(same_bytes(a.group_index, b.group_index));
}

// AWQ GEMM packing as AutoAWQ writes it: eight output columns per int32, column
// kOrder[i] of each group of eight at bit position 4i.
inline PackedLinear pack_awq_for_test(const Int4Weight& w) {
  constexpr int kOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  const int64_t n = w.out_features(), k = w.in_features(), groups = w.num_groups();
  PackedLinear p;
  p.qweight = host_tensor(DType::kI32, {k, n / 8});
  p.qzeros = host_tensor(DType::kI32, {groups, n / 8});
  p.scales = host_tensor(DType::kF16, {groups, n});
  for (int64_t c = 0; c < n / 8; ++c) {
    for (int64_t i = 0; i < k; ++i) {
      uint32_t word = 0;
      for (int pos = 0; pos < 8; ++pos) word |= uint32_t(int4_code(w, 8 * c + kOrder[pos], i)) << (4 * pos);
      p.qweight.ptr<uint32_t>()[i * (n / 8) + c] = word;
    }
    for (int64_t g = 0; g < groups; ++g) {
      uint32_t word = 0;
      for (int pos = 0; pos < 8; ++pos)
        word |= uint32_t(w.zeros.ptr<uint8_t>()[(8 * c + kOrder[pos]) * groups + g]) << (4 * pos);
      p.qzeros.ptr<uint32_t>()[g * (n / 8) + c] = word;
    }
  }
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t j = 0; j < n; ++j)
      p.scales.ptr<uint16_t>()[g * n + j] = f32_to_f16(w.scales.ptr<float>()[j * groups + g]);
  return p;
}

// Logits [len, vocab] at every position of `ids` for the model in `dir` (CPU backend).
inline std::vector<float> model_logits(const std::string& dir, const std::vector<int32_t>& ids) {
  auto backend = make_backend("cpu");
  auto model = load_model(dir, *backend);
  return SequenceLogits(*model, int64_t(ids.size())).all(ids);
}

// A fixed prompt of token ids valid for the tiny models (vocab 1024).
inline std::vector<int32_t> test_prompt() { return {5, 17, 300, 42, 999, 7, 256, 64, 128, 3, 511, 77, 901, 12}; }

struct LogitsError {
  float max_abs = 0;    // largest |a - b|
  float max_ref = 0;    // largest |b|
  float rms_ratio = 0;  // rms(a - b) / rms(b)
};

inline LogitsError compare_logits(const std::vector<float>& a, const std::vector<float>& b) {
  LogitsError e;
  double diff2 = 0, ref2 = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    e.max_abs = std::max(e.max_abs, std::abs(a[i] - b[i]));
    e.max_ref = std::max(e.max_ref, std::abs(b[i]));
    diff2 += double(a[i] - b[i]) * double(a[i] - b[i]);
    ref2 += double(b[i]) * double(b[i]);
  }
  e.rms_ratio = float(std::sqrt(diff2 / ref2));
  return e;
}

// Every tensor of a file; each keeps the mapping alive through its owner.
inline std::map<std::string, Tensor> read_all(const std::string& file) {
  const SafetensorsFile f = SafetensorsFile::open(file);
  std::map<std::string, Tensor> tensors;
  for (const auto& e : f.entries()) tensors[e.name] = f.tensor(e.name);
  return tensors;
}

// The error loading the model in `dir` gives, or "" when it loads.
inline std::string load_error(const std::string& dir) {
  try {
    model_logits(dir, test_prompt());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace tern::quant_test
