// What `tern bench serve`, `sweep` and `ablation` share: the options that shape the
// prompts, the requests and the load (registered in groups, so each command takes the
// ones that apply to it), and one benchmark run against a server.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "loadgen/http_url.h"
#include "loadgen/load_report.h"
#include "loadgen/workload.h"
#include "tokenizer/tokenizer.h"

namespace tern::app {

struct BenchClientOptions {
  // Prompts.
  loadgen::WorkloadSpec workload;
  std::string tokenizer_dir;           // exact token lengths; empty: approximate text prompts
  std::string prompt_format = "auto";  // auto | ids | text
  // Requests.
  std::string model;                     // the id sent; empty: the first of /v1/models
  std::string endpoint = "completions";  // completions | chat
  bool ignore_eos = false;
  double temperature = 0.0;
  std::string response_format_file;  // a JSON schema or a whole response_format; empty: none
  double timeout_s = 600;
  std::string api_key;
  int32_t warmup = 1;
  loadgen::Slo slo;
  bool progress = true;
  // Load.
  int32_t concurrency = 0;
  double request_rate = 0;
};

// --input-len, --output-len, --dataset.
void add_prompt_source_options(CLI::App& cmd, BenchClientOptions& o);
// --range-ratio, --shared-prefix-len, --seed, --tokenizer, --prompt-format.
void add_prompt_options(CLI::App& cmd, BenchClientOptions& o);
// --endpoint, --ignore-eos, --temperature, --response-format, --timeout, --api-key,
// --warmup, --slo-ttft-ms, --slo-tpot-ms, --no-progress.
void add_request_options(CLI::App& cmd, BenchClientOptions& o);
// --model (the benchmarks that start their own server leave it out).
void add_model_option(CLI::App& cmd, BenchClientOptions& o);
// --concurrency, --request-rate, --num-prompts.
void add_load_options(CLI::App& cmd, BenchClientOptions& o);

// A server to measure.
struct BenchTarget {
  loadgen::HttpUrl url;
  std::string model;                           // sent as "model"; empty: left out
  std::shared_ptr<const Tokenizer> tokenizer;  // null: text prompts of approximate length
};

// Parses `url`, loads --tokenizer, and unless --model names it, takes the model id from
// GET /v1/models. Throws tern::Error with what to fix.
BenchTarget open_target(const BenchClientOptions& o, const std::string& url);

// --warmup requests (short, not measured), then the measured run with a live progress
// line. Returns the report (loadgen/load_report.h) with the settings recorded: url,
// model, endpoint, date, workload {...}, load {...}. Throws tern::Error when every
// warm-up request fails (the server is unusable: wrong URL, model or API key).
nlohmann::json run_benchmark(const BenchClientOptions& o, const BenchTarget& target, const std::string& label);

std::string utc_date();  // YYYY-MM-DD
// Writes `j` indented, through a temporary file, so a reader never sees half of it.
void write_json_file(const std::string& path, const nlohmann::json& j);

}  // namespace tern::app
