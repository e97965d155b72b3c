#include "quant/gptq.h"

#include <algorithm>
#include <numeric>

#include "base/error.h"
#include "base/log.h"
#include "base/thread_pool.h"
#include "quant/group_quantizer.h"
#include "quant/linalg.h"
#include "tensor/convert.h"

namespace tern {
namespace {

// Rows quantised together, so that each row of U read from memory serves several rows.
constexpr int64_t kRowTile = 16;

float dot_f32(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  for (int j = 0; i < n; ++i, ++j) acc[j] += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// The permuted, dampened Hessian's inverse factor U; `damp_percent` may be raised.
std::vector<double> inverse_factor(std::vector<double> h, int64_t k, double damp_percent) {
  double mean_diag = 0.0;
  for (int64_t i = 0; i < k; ++i) mean_diag += h[size_t(i * k + i)];
  mean_diag /= double(k);
  for (int attempt = 0; attempt < 4; ++attempt, damp_percent *= 10.0) {
    std::vector<double> u = h;
    for (int64_t i = 0; i < k; ++i) u[size_t(i * k + i)] += damp_percent * mean_diag;
    if (inverse_cholesky_upper(u, k)) return u;
    log_warn("gptq: Hessian of ", k, " inputs is not positive definite with dampening ", damp_percent,
             "; retrying with ", damp_percent * 10.0);
  }
  throw error("gptq: the Hessian of a layer with ", k,
              " inputs is not positive definite even with heavy dampening (calibration inputs degenerate?)");
}

// Quantises rows [row0, row0 + rows) of w (permuted columns, updated in place).
void quantize_tile(std::vector<double>& w, int64_t row0, int64_t rows, int64_t k, const std::vector<double>& u,
                   const GptqOptions& options, int64_t group_size, std::vector<int>& codes,
                   std::vector<GroupGrid>& grids) {
  const int64_t groups = int4_num_groups(k, group_size);
  const int64_t block = std::max<int64_t>(1, options.block_size);
  std::vector<double> err(size_t(rows * block));
  std::vector<float> group_values(static_cast<size_t>(group_size));
  for (int64_t i1 = 0; i1 < k; i1 += block) {
    const int64_t i2 = std::min(k, i1 + block);
    for (int64_t i = i1; i < i2; ++i) {
      const double* u_i = u.data() + i * k;
      for (int64_t r = 0; r < rows; ++r) {
        double* wr = w.data() + (row0 + r) * k;
        GroupGrid& grid = grids[size_t((row0 + r) * groups + i / group_size)];
        if (i % group_size == 0) {
          const int64_t len = std::min(group_size, k - i);
          for (int64_t j = 0; j < len; ++j) group_values[size_t(j)] = float(wr[i + j]);
          grid = find_group_grid(group_values.data(), len, options.quant.sym);
        }
        const int code = quantize_to_grid(float(wr[i]), grid);
        codes[size_t((row0 + r) * k + i)] = code;
        const double e = (wr[i] - double(grid_value(code, grid))) / u_i[i];
        for (int64_t j = i + 1; j < i2; ++j) wr[j] -= e * u_i[j];
        err[size_t(r * block + (i - i1))] = e;
      }
    }
    // The block's errors reach the remaining columns in one pass over U's rows.
    for (int64_t m = i1; m < i2; ++m) {
      const double* u_m = u.data() + m * k;
      for (int64_t r = 0; r < rows; ++r) {
        const double e = err[size_t(r * block + (m - i1))];
        double* wr = w.data() + (row0 + r) * k;
        for (int64_t j = i2; j < k; ++j) wr[j] -= e * u_m[j];
      }
    }
  }
}

}  // namespace

HessianAccumulator::HessianAccumulator(int64_t in_features)
    : k_(in_features), sum_(size_t(in_features * in_features), 0.0f) {}

void HessianAccumulator::add(const Tensor& x) {
  if (x.device != Device::kCpu || x.dtype != DType::kF32 || x.cols() != k_)
    throw error("gptq: calibration inputs ", x.shape_str(), " are not host F32 rows of ", k_, " features");
  const int64_t t = x.rows();
  if (t == 0) return;
  // Columns of x as rows, so every H entry is one contiguous dot product.
  std::vector<float> xt(size_t(k_ * t));
  const float* xs = x.ptr<const float>();
  for (int64_t r = 0; r < t; ++r)
    for (int64_t i = 0; i < k_; ++i) xt[size_t(i * t + r)] = xs[r * k_ + i];
  ThreadPool::global().parallel_for(k_, 8, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      for (int64_t j = 0; j <= i; ++j) sum_[size_t(i * k_ + j)] += dot_f32(&xt[size_t(i * t)], &xt[size_t(j * t)], t);
  });
  num_samples_ += t;
}

std::vector<double> HessianAccumulator::hessian() const {
  TERN_CHECK(num_samples_ > 0, "Hessian of no calibration inputs");
  const double scale = 2.0 / double(num_samples_);
  std::vector<double> h(size_t(k_ * k_));
  for (int64_t i = 0; i < k_; ++i) {
    for (int64_t j = 0; j <= i; ++j) {
      h[size_t(i * k_ + j)] = scale * sum_[size_t(i * k_ + j)];
      h[size_t(j * k_ + i)] = h[size_t(i * k_ + j)];
    }
  }
  return h;
}

Int4Weight quantize_gptq(const Tensor& weight, const HessianAccumulator& hessian, const GptqOptions& options) {
  if (weight.ndim != 2 || weight.dim(1) != hessian.in_features())
    throw error("gptq: weight ", weight.shape_str(), " does not match a Hessian of ", hessian.in_features(), " inputs");
  const int64_t n = weight.dim(0), k = weight.dim(1);
  Int4Weight out = make_host_int4(n, k, options.quant.group_size < 0 ? k : options.quant.group_size);
  const int64_t group_size = out.group_size, groups = out.num_groups();
  std::vector<double> h = hessian.hessian();

  // Column order: act-order sorts by decreasing H[i, i]; ties keep their order.
  std::vector<int64_t> perm(static_cast<size_t>(k));
  std::iota(perm.begin(), perm.end(), 0);
  if (options.act_order)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return h[size_t(a * k + a)] > h[size_t(b * k + b)]; });
  std::vector<double> hp(size_t(k * k));
  for (int64_t a = 0; a < k; ++a)
    for (int64_t b = 0; b < k; ++b) hp[size_t(a * k + b)] = h[size_t(perm[size_t(a)] * k + perm[size_t(b)])];
  h.clear();
  h.shrink_to_fit();

  std::vector<double> w(size_t(n * k));
  std::vector<float> row(static_cast<size_t>(k));
  for (int64_t j = 0; j < n; ++j) {
    read_as_f32(weight, j * k, k, row.data());
    for (int64_t a = 0; a < k; ++a) w[size_t(j * k + a)] = row[size_t(perm[size_t(a)])];
  }
  // Inputs that were always zero carry no information: their weights are dropped.
  for (int64_t a = 0; a < k; ++a) {
    if (hp[size_t(a * k + a)] != 0.0) continue;
    hp[size_t(a * k + a)] = 1.0;
    for (int64_t j = 0; j < n; ++j) w[size_t(j * k + a)] = 0.0;
  }
  const std::vector<double> u = inverse_factor(std::move(hp), k, options.damp_percent);

  std::vector<int> codes(size_t(n * k));
  std::vector<GroupGrid> grids(size_t(n * groups));
  const int64_t tiles = (n + kRowTile - 1) / kRowTile;
  ThreadPool::global().parallel_for(tiles, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t row0 = t * kRowTile;
      quantize_tile(w, row0, std::min(kRowTile, n - row0), k, u, options, group_size, codes, grids);
    }
  });

  for (int64_t j = 0; j < n; ++j) {
    for (int64_t g = 0; g < groups; ++g) {
      out.scales.ptr<float>()[j * groups + g] = grids[size_t(j * groups + g)].scale;
      out.zeros.ptr<uint8_t>()[j * groups + g] = uint8_t(grids[size_t(j * groups + g)].zero);
    }
    for (int64_t a = 0; a < k; ++a) set_int4_code(out, j, perm[size_t(a)], codes[size_t(j * k + a)]);
  }
  if (options.act_order && groups > 1) {
    out.group_index = host_tensor(DType::kI32, {k});
    for (int64_t a = 0; a < k; ++a) out.group_index.ptr<int32_t>()[perm[size_t(a)]] = int32_t(a / group_size);
    bool plain = true;
    for (int64_t i = 0; i < k; ++i) plain = plain && out.group_index.ptr<int32_t>()[i] == i / group_size;
    if (plain) out.group_index = Tensor{};
  }
  return out;
}

}  // namespace tern
