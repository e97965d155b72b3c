// The host reference of Backend::top_k, also the default for backends without a kernel.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "backend/backend.h"
#include "base/error.h"

namespace tern {

void Backend::top_k(const Tensor& logits, int k, const Tensor& ids, const Tensor& values, const Tensor& log_sum_exp) {
  const int64_t rows = logits.rows(), vocab = logits.cols();
  TERN_CHECK(logits.dtype == DType::kF32 && k > 0 && k <= vocab, "top_k of ", logits.shape_str(), " k ", k);
  TERN_CHECK(ids.numel() == rows * k && values.numel() == rows * k && log_sum_exp.numel() == rows, "top_k outputs");
  const bool host = logits.device == Device::kCpu;
  std::vector<float> row_buffer;
  std::vector<float> all;
  if (!host) {
    all.resize(size_t(rows * vocab));
    copy_to_host(logits, all.data());
  }
  std::vector<int32_t> out_ids(size_t(rows * k));
  std::vector<float> out_values(size_t(rows * k)), out_lse(static_cast<size_t>(rows));
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = host ? logits.ptr<const float>() + r * vocab : all.data() + r * vocab;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
      return row[a] > row[b] || (row[a] == row[b] && a < b);
    });
    float max_value = -std::numeric_limits<float>::infinity();
    bool nan = false;
    for (int64_t v = 0; v < vocab; ++v) {
      nan = nan || std::isnan(row[v]);
      max_value = std::max(max_value, row[v]);
    }
    double sum = 0.0;
    for (int64_t v = 0; v < vocab; ++v) sum += std::exp(double(row[v]) - double(max_value));
    out_lse[size_t(r)] = nan ? std::numeric_limits<float>::quiet_NaN() : float(double(max_value) + std::log(sum));
    for (int i = 0; i < k; ++i) {
      out_ids[size_t(r * k + i)] = order[size_t(i)];
      out_values[size_t(r * k + i)] = row[order[size_t(i)]];
    }
  }
  if (ids.device == Device::kCpu) {
    std::copy(out_ids.begin(), out_ids.end(), ids.ptr<int32_t>());
    std::copy(out_values.begin(), out_values.end(), values.ptr<float>());
    std::copy(out_lse.begin(), out_lse.end(), log_sum_exp.ptr<float>());
  } else {
    copy_from_host(ids, out_ids.data());
    copy_from_host(values, out_values.data());
    copy_from_host(log_sum_exp, out_lse.data());
  }
}

}  // namespace tern
