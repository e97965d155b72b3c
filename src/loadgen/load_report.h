// A run's records reduced to the numbers a serving benchmark reports, as JSON (the
// schema `--json` writes and the ablation and sweep embed) and as text for the terminal.
//
// Keys: completed, failed, errors ({class: {count, example}}), duration_s,
// requests_per_min, requests_per_s, input_tokens, output_tokens, output_tokens_per_s,
// total_tokens_per_s, ttft_ms, tpot_ms, itl_ms, e2e_ms (each {mean, median, p95, p99, min,
// max, count}), max_in_flight, output_tokens_from ("usage", "chunks", "mixed" or "none"), and
// goodput ({slo_ttft_ms, slo_tpot_ms, requests, requests_per_min, fraction}) when an SLO
// is set. TPOT is per request (e2e - ttft) / (output tokens - 1); ITL is every gap
// between token chunks.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "loadgen/load_runner.h"

namespace tern::loadgen {

struct Slo {
  double ttft_ms = 0;  // 0: no limit
  double tpot_ms = 0;
};

nlohmann::json make_report(const LoadRun& run, const Slo& slo);

// Multi-line summary for the terminal.
std::string format_report(const nlohmann::json& report);

}  // namespace tern::loadgen
