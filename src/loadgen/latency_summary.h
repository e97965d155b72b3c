// Summary statistics of one measured quantity (TTFT, TPOT, ITL, end-to-end latency):
// mean, median and tail percentiles. Percentiles interpolate linearly between the closest
// ranks, numpy's default, which vLLM's and SGLang's benchmarks also use, so the numbers
// compare with theirs.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

namespace tern::loadgen {

struct LatencySummary {
  size_t count = 0;
  double mean = 0, median = 0, p95 = 0, p99 = 0, min = 0, max = 0;  // all 0 when count is 0
};

// `sorted` ascending and not empty; q in [0, 100].
double percentile(std::span<const double> sorted, double q);

LatencySummary summarize(std::vector<double> values);

// {"mean", "median", "p95", "p99", "min", "max", "count"}.
nlohmann::json to_json(const LatencySummary& s);

}  // namespace tern::loadgen
