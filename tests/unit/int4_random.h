// A random INT4 weight for tests of the CPU and CUDA INT4 paths (no data files needed).
#pragma once

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "quant/int4_weight.h"
#include "tensor/dtype.h"

namespace tern::quant_test {

// A random N x K weight with F16-representable scales, zeros in [lo_zero, hi_zero], and
// (with act_order) a random grouping of exactly group_size columns per group.
inline Int4Weight random_int4(int64_t n, int64_t k, int64_t group_size, uint32_t seed, bool act_order = false,
                              int lo_zero = 1, int hi_zero = 15) {
  std::mt19937 rng(seed);
  Int4Weight w = make_host_int4(n, k, group_size);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < k; ++i) set_int4_code(w, j, i, int(rng() % 16));
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  for (int64_t i = 0; i < n * w.num_groups(); ++i) {
    w.scales.ptr<float>()[i] = f16_to_f32(f32_to_f16(scale(rng)));
    w.zeros.ptr<uint8_t>()[i] = uint8_t(lo_zero + int(rng() % uint32_t(hi_zero - lo_zero + 1)));
  }
  if (act_order) {
    std::vector<int32_t> perm(static_cast<size_t>(k));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    w.group_index = host_tensor(DType::kI32, {k});
    for (int64_t pos = 0; pos < k; ++pos) w.group_index.ptr<int32_t>()[perm[size_t(pos)]] = int32_t(pos / group_size);
  }
  return w;
}

}  // namespace tern::quant_test
