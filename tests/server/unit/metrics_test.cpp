// Prometheus rendering: cumulative buckets, +Inf equal to the count, every named series.
#include "server/metrics.h"

#include <gtest/gtest.h>

namespace tern::server {
namespace {

TEST(Histogram, BucketsAreCumulativeAndInfIsTheCount) {
  Histogram h({0.1, 1.0});
  h.observe(0.05);
  h.observe(0.5, 2);
  h.observe(7.0);
  std::string out;
  h.render("x", "help", out);
  EXPECT_NE(out.find("# TYPE x histogram\n"), std::string::npos);
  EXPECT_NE(out.find("x_bucket{le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("x_bucket{le=\"1\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("x_bucket{le=\"+Inf\"} 4\n"), std::string::npos);
  EXPECT_NE(out.find("x_sum 8.05\n"), std::string::npos);
  EXPECT_NE(out.find("x_count 4\n"), std::string::npos);
}

TEST(ServerMetrics, RendersEveryDocumentedSeries) {
  ServerMetrics m;
  RequestTimes t;
  t.arrival = RequestTimes::Clock::now();
  t.first_scheduled = t.arrival + std::chrono::milliseconds(1);
  t.first_token = t.arrival + std::chrono::milliseconds(10);
  t.finished = t.arrival + std::chrono::milliseconds(100);
  m.observe_request(t);
  m.observe_token_gap(t.first_token, t.first_token + std::chrono::milliseconds(20), 1);
  m.observe_token_gap(t.first_token, t.first_token + std::chrono::milliseconds(90), 8);  // 8 gaps of 11.25 ms
  EngineStats stats;
  stats.num_finished_seqs[static_cast<size_t>(FinishReason::kLength)] = 2;
  stats.num_kv_block_copies = 3;
  stats.max_running_seqs = 3;
  stats.max_used_kv_blocks = 5;
  stats.memory = {.weights_bytes = 1000,
                  .workspace_bytes = 200,
                  .kv_block_bytes = 10,
                  .device_used_bytes = 4096,
                  .device_total_bytes = 8192};
  const std::string out = m.render(&stats);
  for (const char* name : {"tern_time_to_first_token_seconds_count 1",
                           "tern_inter_token_latency_seconds_count 9",
                           "tern_e2e_request_latency_seconds_count 1",
                           "tern_request_queue_time_seconds_count 1",
                           "tern_requests_running 0",
                           "tern_requests_waiting 0",
                           "tern_kv_cache_usage_ratio 0",
                           "tern_prompt_tokens_total 0",
                           "tern_generation_tokens_total 0",
                           "tern_prefix_cache_queries_total 0",
                           "tern_prefix_cache_hits_total 0",
                           "tern_preemptions_total 0",
                           "tern_prefill_chunks_cut_total 0",
                           "tern_kv_block_copies_total 3",
                           "tern_requests_total{finish_reason=\"length\"} 2",
                           "tern_requests_running_max 3",
                           "tern_kv_cache_blocks_used_max 5",
                           "tern_memory_peak_bytes 1250",
                           "tern_device_memory_used_bytes 4096",
                           "tern_device_memory_total_bytes 8192",
                           "tern_inter_token_latency_seconds_sum 0.11"}) {
    EXPECT_NE(out.find(std::string(name) + "\n"), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace tern::server
