// The benchmark's numbers: percentiles as numpy computes them, and a run's records
// reduced to the report (throughput, TTFT/TPOT/ITL/E2E, goodput, error classes).
#include "loadgen/load_report.h"

#include <gtest/gtest.h>

#include "loadgen/latency_summary.h"

namespace tern::loadgen {
namespace {

TEST(LatencySummary, PercentilesInterpolateLikeNumpy) {
  const LatencySummary s = summarize({10, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_EQ(s.count, 10u);
  EXPECT_DOUBLE_EQ(s.mean, 5.5);
  EXPECT_DOUBLE_EQ(s.median, 5.5);
  EXPECT_DOUBLE_EQ(s.p95, 9.55);  // numpy.percentile(range(1, 11), 95)
  EXPECT_DOUBLE_EQ(s.p99, 9.91);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 10);
  const LatencySummary one = summarize({4});
  EXPECT_DOUBLE_EQ(one.p99, 4);
  EXPECT_EQ(summarize({}).count, 0u);
}

RequestRecord ok(double start, double ttft, double e2e, int64_t tokens, std::vector<double> itl = {}) {
  return {.ok = true, .start_s = start, .ttft_s = ttft, .e2e_s = e2e, .itl_s = std::move(itl),
          .output_tokens = tokens, .prompt_tokens = 100, .tokens_from_usage = true};
}

RequestRecord failed(const char* error_class, const char* message) {
  return {.error_class = error_class, .error_message = message};
}

TEST(BenchReport, ThroughputAndLatenciesComeFromTheCompletedRequests) {
  LoadRun run;
  run.duration_s = 2.0;
  run.max_in_flight = 2;
  run.records = {ok(0.0, 0.1, 1.1, 11, {0.1, 0.1}), ok(0.5, 0.3, 1.3, 6, {0.2}), failed("http_500", "boom"),
                 failed("http_500", "boom again"), failed("timeout", "slow")};
  const nlohmann::json r = make_report(run, {});
  EXPECT_EQ(r["completed"], 2);
  EXPECT_EQ(r["failed"], 3);
  EXPECT_EQ(r["errors"]["http_500"]["count"], 2);
  EXPECT_EQ(r["errors"]["http_500"]["example"], "boom");
  EXPECT_EQ(r["errors"]["timeout"]["count"], 1);
  EXPECT_DOUBLE_EQ(r["requests_per_min"].get<double>(), 60.0);
  EXPECT_DOUBLE_EQ(r["output_tokens_per_s"].get<double>(), 17 / 2.0);
  EXPECT_DOUBLE_EQ(r["total_tokens_per_s"].get<double>(), 217 / 2.0);
  EXPECT_DOUBLE_EQ(r["ttft_ms"]["mean"].get<double>(), 200);
  EXPECT_DOUBLE_EQ(r["e2e_ms"]["median"].get<double>(), 1200);
  // TPOT: (1.1 - 0.1) / 10 and (1.3 - 0.3) / 5.
  EXPECT_DOUBLE_EQ(r["tpot_ms"]["min"].get<double>(), 100);
  EXPECT_DOUBLE_EQ(r["tpot_ms"]["max"].get<double>(), 200);
  EXPECT_EQ(r["itl_ms"]["count"], 3);
  EXPECT_EQ(r["max_in_flight"], 2);
  EXPECT_EQ(r["output_tokens_from"], "usage");
  EXPECT_FALSE(r.contains("goodput"));
  for (const char* key : {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"}) {
    for (const char* stat : {"mean", "median", "p95", "p99"}) EXPECT_TRUE(r[key][stat].is_number()) << key << stat;
  }
  const std::string text = format_report(r);
  EXPECT_NE(text.find("http_500"), std::string::npos);
  EXPECT_NE(text.find("time to first token (ms)"), std::string::npos);
}

TEST(BenchReport, GoodputCountsRequestsWithinEverySlo) {
  LoadRun run;
  run.duration_s = 60.0;
  run.records = {ok(0, 0.1, 1.1, 11), ok(0, 0.5, 1.5, 11), ok(0, 0.1, 3.1, 11), failed("disconnected", "reset")};
  const nlohmann::json r = make_report(run, {.ttft_ms = 200, .tpot_ms = 150});
  EXPECT_EQ(r["goodput"]["requests"], 1) << "the second misses the TTFT SLO, the third the TPOT one";
  EXPECT_DOUBLE_EQ(r["goodput"]["requests_per_min"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(r["goodput"]["fraction"].get<double>(), 0.25);
  EXPECT_EQ(r["goodput"]["slo_ttft_ms"], 200.0);
}

TEST(BenchReport, TokenCountsWithoutUsageAreMarked) {
  LoadRun run;
  run.duration_s = 1.0;
  run.records = {ok(0, 0.1, 0.5, 4)};
  run.records[0].tokens_from_usage = false;
  EXPECT_EQ(make_report(run, {})["output_tokens_from"], "chunks");
  run.records.push_back(ok(0, 0.1, 0.5, 4));
  EXPECT_EQ(make_report(run, {})["output_tokens_from"], "mixed");
}

}  // namespace
}  // namespace tern::loadgen
