#include "loadgen/latency_summary.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tern::loadgen {

double percentile(std::span<const double> sorted, double q) {
  const double rank = q / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

LatencySummary summarize(std::vector<double> values) {
  LatencySummary s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.count = values.size();
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  s.median = percentile(values, 50);
  s.p95 = percentile(values, 95);
  s.p99 = percentile(values, 99);
  s.min = values.front();
  s.max = values.back();
  return s;
}

nlohmann::json to_json(const LatencySummary& s) {
  return {{"mean", s.mean}, {"median", s.median}, {"p95", s.p95}, {"p99", s.p99},
          {"min", s.min},   {"max", s.max},       {"count", s.count}};
}

}  // namespace tern::loadgen
