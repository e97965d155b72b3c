// tern bench serve: one load against an OpenAI-compatible server (tern, vLLM, SGLang,
// llama-server), reporting TTFT, TPOT, ITL and end-to-end latency percentiles, throughput
// and goodput. tern bench sweep: the same at several concurrency levels and workloads,
// into one JSON file (the load sweep of docs/performance.md).
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "app/bench_client.h"
#include "app/bench_commands.h"
#include "base/error.h"

namespace tern::app {
namespace {

struct ServeBenchOptions {
  BenchClientOptions client;
  std::string url;
  std::string json_path;
};

void run_serve_bench(const ServeBenchOptions& o) {
  const BenchTarget target = open_target(o.client, o.url);
  const nlohmann::json report = run_benchmark(o.client, target, "bench");
  std::cout << loadgen::format_report(report) << std::flush;
  if (!o.json_path.empty()) write_json_file(o.json_path, report);
}

struct SweepOptions {
  BenchClientOptions client;
  std::string url;
  std::vector<int32_t> levels = {1, 2, 4, 8, 16, 32, 64, 128, 256};
  std::vector<std::string> workloads = {"1024x1024", "2048x512"};
  int32_t rounds = 2;
  int32_t min_prompts = 4;
  std::string json_path;
  std::string gpu;
  std::string commit;
};

std::pair<int32_t, int32_t> parse_workload(const std::string& text) {
  int32_t in = 0, out = 0;
  char x = 0, extra = 0;
  std::istringstream is(text);
  if (!(is >> in >> x >> out) || x != 'x' || (is >> extra) || in < 1 || out < 1) {
    throw error("--workloads: '", text, "' is not INPUTxOUTPUT (e.g. 1024x1024)");
  }
  return {in, out};
}

std::string sweep_line(const nlohmann::json& r) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "| %d/%d | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f | %lld |",
                r["workload"]["input_len"].get<int>(), r["workload"]["output_len"].get<int>(),
                r["load"]["concurrency"].get<int>(), r["requests_per_min"].get<double>(),
                r["output_tokens_per_s"].get<double>(), r["ttft_ms"]["median"].get<double>(),
                r["ttft_ms"]["p99"].get<double>(), r["itl_ms"]["median"].get<double>(),
                r["itl_ms"]["p99"].get<double>(), static_cast<long long>(r["failed"].get<int64_t>()));
  return buf;
}

void run_sweep(SweepOptions& o) {
  std::vector<std::pair<int32_t, int32_t>> workloads;
  for (const std::string& w : o.workloads) workloads.push_back(parse_workload(w));
  const BenchTarget target = open_target(o.client, o.url);
  nlohmann::json out = {{"kind", "sweep"},   {"url", target.url.text()}, {"model", target.model},
                        {"date", utc_date()}, {"gpu", o.gpu},             {"commit", o.commit},
                        {"runs", nlohmann::json::array()}};
  std::string table =
      "| workload | concurrency | req/min | output tok/s | TTFT p50 (ms) | TTFT p99 (ms) | ITL p50 (ms) | ITL p99 (ms) "
      "| failed |\n|---|---|---|---|---|---|---|---|---|\n";
  BenchClientOptions c = o.client;
  uint64_t run_index = 0;
  for (const auto& [input_len, output_len] : workloads) {
    for (int32_t level : o.levels) {
      // Fresh prompts for every run: with one seed, each level would resend the previous
      // level's prompts and find them in the server's prefix cache.
      c.workload.seed = o.client.workload.seed + run_index++;
      c.workload.input_len = input_len;
      c.workload.output_len = output_len;
      c.workload.num_prompts = std::max(o.rounds * level, o.min_prompts);
      c.concurrency = level;
      const std::string label = std::to_string(input_len) + "/" + std::to_string(output_len) + " c=" +
                                std::to_string(level);
      nlohmann::json r = run_benchmark(c, target, label);
      c.warmup = 0;  // the server is warm after the first run
      table += sweep_line(r) + "\n";
      out["runs"].push_back(std::move(r));
      if (!o.json_path.empty()) write_json_file(o.json_path, out);  // after every run: partial results survive
    }
  }
  std::cout << table << std::flush;
}

}  // namespace

void add_bench_serve_command(CLI::App& bench) {
  auto o = std::make_shared<ServeBenchOptions>();
  CLI::App* cmd = bench.add_subcommand(
      "serve",
      "Benchmark an OpenAI-compatible server (tern, vLLM, SGLang, llama-server) over HTTP with streamed requests: "
      "TTFT, TPOT, ITL and end-to-end latency (mean, median, P95, P99), throughput, goodput, failures");
  cmd->add_option("--url", o->url, "the server, e.g. http://127.0.0.1:8000 (a trailing /v1 is fine)")->required();
  add_model_option(*cmd, o->client);
  add_load_options(*cmd, o->client);
  add_prompt_source_options(*cmd, o->client);
  add_prompt_options(*cmd, o->client);
  add_request_options(*cmd, o->client);
  cmd->add_option("--json", o->json_path, "also write the results to this file");
  cmd->callback([o] { run_serve_bench(*o); });
}

void add_bench_sweep_command(CLI::App& bench) {
  auto o = std::make_shared<SweepOptions>();
  CLI::App* cmd = bench.add_subcommand(
      "sweep", "Run `bench serve` at each concurrency level for each workload against one server; one JSON file");
  cmd->add_option("--url", o->url, "the server, e.g. http://127.0.0.1:8000")->required();
  add_model_option(*cmd, o->client);
  cmd->add_option("--concurrency-levels", o->levels, "closed-loop concurrency levels, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--workloads", o->workloads, "INPUTxOUTPUT token lengths, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--rounds", o->rounds, "requests per level: rounds x concurrency (at least --min-prompts)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--min-prompts", o->min_prompts, "fewest requests at a level")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  add_prompt_options(*cmd, o->client);
  add_request_options(*cmd, o->client);
  cmd->add_option("--json", o->json_path, "write every run to this file (rewritten after each run)");
  cmd->add_option("--gpu", o->gpu, "GPU name to record");
  cmd->add_option("--commit", o->commit, "server commit to record");
  cmd->callback([o] { run_sweep(*o); });
}

}  // namespace tern::app
