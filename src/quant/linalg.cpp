#include "quant/linalg.h"

#include <algorithm>
#include <cmath>

#include "base/thread_pool.h"

namespace tern {
namespace {

double dot(const double* a, const double* b, int64_t n) {
  double acc[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; ++j) acc[j] += a[i + j] * b[i + j];
  for (; i < n; ++i) acc[0] += a[i] * b[i];
  return (acc[0] + acc[2]) + (acc[1] + acc[3]);
}

}  // namespace

bool cholesky_lower(std::vector<double>& a, int64_t n) {
  // Column by column (Cholesky-Crout): the entries below the diagonal of column j are
  // independent dot products of rows, computed in parallel.
  for (int64_t j = 0; j < n; ++j) {
    double* row_j = a.data() + j * n;
    const double d = row_j[j] - dot(row_j, row_j, j);
    if (!(d > 0.0) || !std::isfinite(d)) return false;
    const double pivot = std::sqrt(d);
    row_j[j] = pivot;
    ThreadPool::global().parallel_for(n - j - 1, 64, [&](int64_t begin, int64_t end) {
      for (int64_t i = j + 1 + begin; i < j + 1 + end; ++i) {
        double* row_i = a.data() + i * n;
        row_i[j] = (row_i[j] - dot(row_i, row_j, j)) / pivot;
      }
    });
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) a[i * n + j] = 0.0;
  return true;
}

void invert_lower(std::vector<double>& l, int64_t n) {
  // Row i of the inverse is (e_i - sum_{m < i} L[i, m] * (inverse row m)) / L[i, i]. Rows
  // above i are already inverted in place; row i of L is copied out before it is
  // replaced. Each thread owns a range of columns and walks the rows above contiguously.
  std::vector<double> coeff(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double* row_i = l.data() + i * n;
    for (int64_t m = 0; m < i; ++m) coeff[size_t(m)] = row_i[m];
    const double diag = row_i[i];
    ThreadPool::global().parallel_for(i + 1, 256, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) row_i[c] = c == i ? 1.0 : 0.0;
      for (int64_t m = begin; m < i; ++m) {
        const double cm = coeff[size_t(m)];
        const double* inv_m = l.data() + m * n;
        for (int64_t c = begin; c < std::min(end, m + 1); ++c) row_i[c] -= cm * inv_m[c];
      }
      for (int64_t c = begin; c < end; ++c) row_i[c] /= diag;
    });
  }
}

bool inverse_cholesky_upper(std::vector<double>& a, int64_t n) {
  // Reversing rows and columns swaps (i, j) with (n-1-i, n-1-j): done in place, twice.
  auto reverse = [&] {
    for (int64_t i = 0; i < n * n / 2; ++i) std::swap(a[size_t(i)], a[size_t(n * n - 1 - i)]);
  };
  reverse();
  if (!cholesky_lower(a, n)) return false;
  invert_lower(a, n);
  reverse();
  return true;
}

}  // namespace tern
