#include "backend/cpu/linear_rows.h"

#include <vector>

#include "backend/cpu/op_support.h"
#include "base/thread_pool.h"

namespace tern::cpu {

void linear_rows(const float* x, int64_t m, int64_t k, const Tensor& bias, int64_t n, float* out,
                 const std::function<void(int64_t j, float* row)>& weight_row) {
  std::vector<float> b;
  if (!bias.empty()) {
    expect_float(bias, "linear", "bias");
    TERN_CHECK(bias.numel() == n, "linear bias ", bias.shape_str());
    b.resize(size_t(n));
    widen(bias, 0, n, b.data());
  }
  ThreadPool::global().parallel_for(n, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t j = begin; j < end; ++j) {
      weight_row(j, row.data());
      const float bj = b.empty() ? 0.0f : b[size_t(j)];
      for (int64_t i = 0; i < m; ++i) out[i * n + j] = dot(x + i * k, row.data(), k) + bj;
    }
  });
}

}  // namespace tern::cpu
