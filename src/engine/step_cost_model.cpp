#include "engine/step_cost_model.h"

#include <algorithm>
#include <cmath>

namespace tern {
namespace {

constexpr double kMinSteps = 8;  // decayed steps before the fit is trusted

// Solves the n x n system m x = v by Gaussian elimination with partial pivoting; false
// when it is singular.
template <int N>
bool solve(double (&m)[N][N], double (&v)[N], double (&x)[N]) {
  for (int col = 0; col < N; ++col) {
    int pivot = col;
    for (int r = col + 1; r < N; ++r)
      if (std::fabs(m[r][col]) > std::fabs(m[pivot][col])) pivot = r;
    if (std::fabs(m[pivot][col]) < 1e-300) return false;
    std::swap(m[col], m[pivot]);
    std::swap(v[col], v[pivot]);
    for (int r = col + 1; r < N; ++r) {
      const double f = m[r][col] / m[col][col];
      for (int c = col; c < N; ++c) m[r][c] -= f * m[col][c];
      v[r] -= f * v[col];
    }
  }
  for (int r = N - 1; r >= 0; --r) {
    double s = v[r];
    for (int c = r + 1; c < N; ++c) s -= m[r][c] * x[c];
    x[r] = s / m[r][r];
  }
  return true;
}

}  // namespace

void StepFeatures::add_chunk(int64_t computed, int64_t num_new) {
  tokens += double(num_new);
  attention += double(num_new) * (double(computed) + double(num_new + 1) / 2) / 1e6;
}

StepCostModel::StepCostModel(double forgetting) : forgetting_(forgetting) {}

void StepCostModel::observe(const StepFeatures& step, double milliseconds) {
  const double x[kN] = {1.0, step.tokens, step.attention};
  for (int i = 0; i < kN; ++i) {
    for (int j = 0; j < kN; ++j) xtx_[i][j] = xtx_[i][j] * forgetting_ + x[i] * x[j];
    xty_[i] = xty_[i] * forgetting_ + x[i] * milliseconds;
  }
  weight_ = weight_ * forgetting_ + 1.0;
  // Refit only while the recent steps differ in size: a run of equal steps (a steady decode
  // batch, or chunks cut to the same size) says nothing about the cost per token, so the
  // last fit that could tell stays in use.
  const double mean = xtx_[0][1] / xtx_[0][0], mean_sq = xtx_[1][1] / xtx_[0][0];
  if (weight_ < kMinSteps || mean_sq - mean * mean <= 1.0) return;
  // A tiny ridge keeps the system solvable when the attention feature barely varies; the
  // intercept is not shrunk.
  double m[kN][kN], v[kN], full[kN] = {};
  for (int i = 0; i < kN; ++i) {
    for (int j = 0; j < kN; ++j) m[i][j] = xtx_[i][j];
    v[i] = xty_[i];
  }
  for (int i = 1; i < kN; ++i) m[i][i] += 1e-9 * (1.0 + xtx_[i][i]);
  if (!solve(m, v, full)) return;
  if (full[2] < 0) {  // attention cannot make a step faster: fit without it
    double m2[2][2] = {{xtx_[0][0], xtx_[0][1]}, {xtx_[1][0], xtx_[1][1] * (1 + 1e-9)}}, v2[2] = {xty_[0], xty_[1]},
           x2[2] = {};
    if (!solve(m2, v2, x2)) return;
    full[0] = x2[0];
    full[1] = x2[1];
    full[2] = 0;
  }
  if (full[1] <= 0) return;  // no cost per token: noise, not a model
  coef_ = {full[0], full[1], full[2]};
  fitted_ = true;
}

bool StepCostModel::ready() const { return fitted_; }

double StepCostModel::predict(const StepFeatures& step) const {
  return coef_[0] + coef_[1] * step.tokens + coef_[2] * step.attention;
}

int64_t StepCostModel::max_chunk(const StepFeatures& base, int64_t computed, double target_ms, int64_t limit) const {
  // The prediction grows with the chunk (b > 0, c >= 0): binary search for the largest fit.
  const auto fits = [&](int64_t n) {
    StepFeatures step = base;
    step.add_chunk(computed, n);
    return predict(step) <= target_ms;
  };
  if (limit <= 0 || !fits(1)) return 0;
  int64_t lo = 1, hi = limit;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (fits(mid))
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

std::array<double, 3> StepCostModel::coefficients() const { return coef_; }

}  // namespace tern
