// tern bench ablation: the source article's table (docs/performance.md) measured on this
// machine. Each stage is a configuration of tern itself, started as a `tern serve` child
// on a loopback port and measured by the `bench serve` client with one workload:
//   1. BF16 weights, static batches, contiguous KV reserved up front, eager (no graphs):
//      the HF generate()-style baseline;
//   2. + INT4 weights (a GPTQ checkpoint; made with `tern quantize` when missing);
//   3. + paged KV cache (with prefix caching);
//   4. + continuous batching;
//   5. + CUDA graphs (tern's engine is the async streaming one in every stage).
// Peak memory and the most requests resident at once come from the server's /metrics.
// With --hf-baseline, a stage 0 row comes first: HF transformers' generate() in static
// batches (tools/hf_static_baseline.py), measured separately on the same machine.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "app/bench_client.h"
#include "app/bench_commands.h"
#include "app/commands.h"
#include "app/engine_options.h"
#include "app/server_process.h"
#include "base/error.h"
#include "base/log.h"

namespace tern::app {
namespace {
namespace fs = std::filesystem;

struct AblationOptions {
  EngineOptions engine;
  BenchClientOptions client;
  std::string int4_model;
  std::string quantize_method = "rtn";
  bool skip_int4 = false;
  std::string json_path;
  std::string gpu;
  std::string commit;
  std::string log_dir;
  std::string hf_baseline;  // tools/hf_static_baseline.py's JSON
  double startup_timeout_s = 1800;
};

struct Stage {
  const char* name;
  bool int4;
  const char* scheduler;
  const char* kv_layout;
  bool eager;
};

// Each stage adds one optimisation to the one before.
constexpr Stage kStages[] = {
    {"BF16, static batching, contiguous KV, eager", false, "static", "contiguous", true},
    {"+ INT4 weights (GPTQ)", true, "static", "contiguous", true},
    {"+ paged KV cache", true, "static", "paged", true},
    {"+ continuous batching", true, "continuous", "paged", true},
    {"+ CUDA graphs", true, "continuous", "paged", false},
};

constexpr size_t kInt4Stage = 1;  // the stage --skip-int4 leaves out
constexpr double kGiB = double(1ull << 30);

bool is_int4_checkpoint(const std::string& dir) {
  std::ifstream f(fs::path(dir) / "config.json");
  if (!f) return false;
  const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  return j.is_object() && j.contains("quantization_config") && j["quantization_config"].is_object();
}

// The INT4 copy of the model: --int4-model, else <model>-int4 next to it; made with
// `tern quantize` when the folder does not exist yet.
std::string prepare_int4(const AblationOptions& o, const std::string& model_dir, const std::string& log_dir) {
  std::string dir = o.int4_model;
  if (dir.empty()) dir = fs::path(model_dir).lexically_normal().string() + "-int4";
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (is_int4_checkpoint(dir)) {
    log_info("INT4 model: ", dir);
    return dir;
  }
  if (fs::exists(dir) && !fs::is_empty(dir)) {
    throw error(dir,
                " exists but holds no INT4 checkpoint (config.json with quantization_config): remove it or "
                "name another folder with --int4-model");
  }
  log_info("quantizing ", model_dir, " into ", dir, " (tern quantize --method ", o.quantize_method, ")");
  ChildProcess quantize({"quantize", "--model", model_dir, "--out", dir, "--method", o.quantize_method},
                        log_dir + "/quantize.log");
  if (const int status = quantize.wait(); status != 0) {
    throw error("tern quantize failed (exit status ", status, "):\n", quantize.log_tail());
  }
  return dir;
}

std::string command_output(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    if (::pclose(p) != 0) out.clear();
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out.substr(0, out.find('\n'));
}

std::string gpu_name(const AblationOptions& o, const std::string& backend) {
  if (!o.gpu.empty()) return o.gpu;
  if (backend != "cuda") return "cpu";
  const std::string name = command_output("nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null");
  return name.empty() ? "cuda" : name;
}

std::string commit_id(const AblationOptions& o) {
  if (!o.commit.empty()) return o.commit;
  const std::string id = command_output("git -C '" TERN_SOURCE_DIR "' rev-parse --short HEAD 2>/dev/null");
  return id.empty() ? "unknown" : id;
}

std::string make_log_dir(const AblationOptions& o) {
  if (!o.log_dir.empty()) {
    fs::create_directories(o.log_dir);
    return o.log_dir;
  }
  std::string pattern = (fs::temp_directory_path() / "tern-ablation-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw error("cannot create a folder for the server logs in /tmp");
  return pattern;
}

double metric(const std::map<std::string, double>& m, const char* name) {
  const auto it = m.find(name);
  if (it == m.end()) throw error("the server's /metrics has no ", name, " (is it an older tern?)");
  return it->second;
}

// Starts the stage's server, measures it, stops it. `int4` says which weights model_dir holds.
nlohmann::json run_stage(const AblationOptions& o, const Stage& stage, int number, const std::string& model_dir,
                         bool int4, const BenchTarget& client_target, const std::string& log_dir,
                         std::string& backend) {
  EngineOptions engine = o.engine;
  engine.model = model_dir;
  engine.scheduler = stage.scheduler;
  engine.kv_layout = stage.kv_layout;
  engine.enforce_eager = stage.eager;
  const std::vector<std::string> flags = engine_option_flags(engine);
  const std::string log_path = log_dir + "/stage-" + std::to_string(number) + ".log";
  nlohmann::json out = {{"stage", number},        {"name", stage.name}, {"weights", int4 ? "int4" : "bf16"},
                        {"model_dir", model_dir}, {"flags", flags},     {"server_log", log_path}};
  log_info("stage ", number, ": ", stage.name, ": starting tern serve (log: ", log_path, ")");
  ServerProcess server(flags, log_path, o.startup_timeout_s);
  backend = server.backend();
  BenchTarget target = client_target;
  target.url = loadgen::parse_http_url(server.url());
  const nlohmann::json report = run_benchmark(o.client, target, "stage " + std::to_string(number));
  const std::map<std::string, double> m = server.metrics();
  if (const int status = server.stop(); status != 0) {
    log_warn("stage ", number, ": tern serve exited with status ", status, " (log: ", log_path, ")");
  }
  const double reserved = metric(m, "tern_device_memory_used_bytes");
  out.update({{"backend", backend},
              {"ttft_ms", report["ttft_ms"]["mean"]},
              {"ttft_median_ms", report["ttft_ms"]["median"]},
              {"ttft_p95_ms", report["ttft_ms"]["p95"]},
              {"ttft_p99_ms", report["ttft_ms"]["p99"]},
              {"requests_per_min", report["requests_per_min"]},
              {"output_tokens_per_s", report["output_tokens_per_s"]},
              {"peak_gpu_memory_gib", metric(m, "tern_memory_peak_bytes") / kGiB},
              {"gpu_memory_reserved_gib", reserved > 0 ? nlohmann::json(reserved / kGiB) : nlohmann::json()},
              {"max_concurrency", static_cast<int64_t>(metric(m, "tern_requests_running_max"))},
              {"completed", report["completed"]},
              {"failed", report["failed"]},
              {"bench", report}});
  return out;
}

// Stage 0 from tools/hf_static_baseline.py's JSON: the run with the workload's prompt and
// output lengths and the largest batch (a static batch is its concurrency).
nlohmann::json hf_stage(const std::string& path, const loadgen::WorkloadSpec& w) {
  std::ifstream f(path);
  if (!f) throw error("--hf-baseline ", path, ": cannot open");
  const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  if (!j.is_object() || !j.contains("runs") || !j["runs"].is_array())
    throw error("--hf-baseline ", path, ": not the JSON of tools/hf_static_baseline.py (no \"runs\" array)");
  const nlohmann::json* best = nullptr;
  for (const nlohmann::json& run : j["runs"]) {
    if (!run.is_object() || run.value("input_len", -1) != w.input_len || run.value("output_len", -1) != w.output_len)
      continue;
    if (!best || run.value("batch", 0) > best->value("batch", 0)) best = &run;
  }
  if (!best)
    throw error("--hf-baseline ", path, ": no run of ", w.input_len, "-token prompts and ", w.output_len,
                " output tokens (run tools/hf_static_baseline.py --runs ", w.input_len, "x", w.output_len, "xBATCH)");
  const nlohmann::json& r = *best;
  for (const char* key : {"requests_per_min", "output_tokens_per_s", "ttft_ms", "peak_gpu_memory_gib", "batch"})
    if (!r.contains(key) || !r[key].is_number()) throw error("--hf-baseline ", path, ": its run has no number ", key);
  const int64_t batch = r["batch"].get<int64_t>();
  return {{"stage", 0},
          {"name", "HF transformers generate(), static batches of " + std::to_string(batch)},
          {"weights", "bf16"},
          {"source", path},
          {"engine", j.value("engine", "")},
          {"ttft_ms", r["ttft_ms"]},
          {"requests_per_min", r["requests_per_min"]},
          {"output_tokens_per_s", r["output_tokens_per_s"]},
          {"peak_gpu_memory_gib", r["peak_gpu_memory_gib"]},
          {"max_concurrency", batch},
          {"note",
           "fixed lengths (no range ratio); every request of a batch gets its first token when the batch's "
           "prefill ends"}};
}

// Each stage's throughput against the one before, and the last against stage 0 (or 1).
nlohmann::json summary_of(const nlohmann::json& stages) {
  nlohmann::json out = {{"monotone", true}};
  const nlohmann::json* prev = nullptr;
  const nlohmann::json* first = nullptr;
  for (const nlohmann::json& s : stages) {
    if (!s.contains("requests_per_min")) {
      out["monotone"] = false;
      continue;
    }
    if (!first) first = &s;
    if (prev && s["requests_per_min"].get<double>() < (*prev)["requests_per_min"].get<double>())
      out["monotone"] = false;
    prev = &s;
  }
  if (first && prev && first != prev && (*first)["requests_per_min"].get<double>() > 0) {
    out["last_over_first"] = (*prev)["requests_per_min"].get<double>() / (*first)["requests_per_min"].get<double>();
    out["first_stage"] = (*first)["stage"];
    out["last_stage"] = (*prev)["stage"];
  }
  return out;
}

std::string cell(const nlohmann::json& v, const char* format) {
  if (!v.is_number()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v.get<double>());
  return buf;
}

std::string markdown_table(const nlohmann::json& result) {
  std::string t =
      "| stage | TTFT (ms) | TTFT P95 (ms) | TTFT P99 (ms) | throughput (req/min) | output tok/s | peak GPU memory "
      "(GiB) | concurrency |\n|---|---|---|---|---|---|---|---|\n";
  for (const nlohmann::json& s : result["stages"]) {
    t += "| " + std::to_string(s["stage"].get<int>()) + ". " + s["name"].get<std::string>();
    if (s.contains("error")) {
      t += " | failed: see the JSON | | | | | | |\n";
      continue;
    }
    t += " | " + cell(s["ttft_ms"], "%.0f") + " | " + cell(s.value("ttft_p95_ms", nlohmann::json()), "%.0f") + " | " +
         cell(s.value("ttft_p99_ms", nlohmann::json()), "%.0f") + " | " + cell(s["requests_per_min"], "%.1f") + " | " +
         cell(s["output_tokens_per_s"], "%.0f") + " | " + cell(s["peak_gpu_memory_gib"], "%.2f") + " | " +
         std::to_string(s["max_concurrency"].get<int64_t>()) + " |\n";
  }
  return t;
}

void run_ablation(AblationOptions& o) {
  const std::string model_dir = resolve_model_option(o.engine.model, o.engine.revision).dir;
  if (is_int4_checkpoint(model_dir)) {
    throw error(model_dir,
                " is already quantised: --model takes the BF16 (or FP16) checkpoint, --int4-model the "
                "INT4 one");
  }
  const std::string log_dir = make_log_dir(o);
  log_info("server logs in ", log_dir);
  const std::string int4_dir = o.skip_int4 ? model_dir : prepare_int4(o, model_dir, log_dir);

  BenchTarget target;  // url and model filled per stage; the INT4 copy has the same tokenizer
  target.tokenizer = Tokenizer::load(o.client.tokenizer_dir.empty() ? model_dir : o.client.tokenizer_dir);
  const loadgen::WorkloadSpec& w = o.client.workload;
  nlohmann::json result = {
      {"kind", "ablation"},
      {"gpu", nullptr},
      {"date", utc_date()},
      {"commit", commit_id(o)},
      {"model", fs::path(model_dir).lexically_normal().filename().string()},
      {"model_dir", model_dir},
      {"int4_model_dir", o.skip_int4 ? nlohmann::json() : nlohmann::json(int4_dir)},
      {"workload",
       {{"input_len", w.input_len},
        {"output_len", w.output_len},
        {"range_ratio", w.range_ratio},
        {"shared_prefix_len", w.shared_prefix_len},
        {"num_prompts", w.num_prompts},
        {"concurrency", o.client.concurrency > 0 ? nlohmann::json(o.client.concurrency) : nlohmann::json()},
        {"request_rate", o.client.request_rate > 0 ? nlohmann::json(o.client.request_rate) : nlohmann::json()},
        {"ignore_eos", o.client.ignore_eos},
        {"seed", w.seed}}},
      {"stages", nlohmann::json::array()}};
  if (!o.hf_baseline.empty()) result["stages"].push_back(hf_stage(o.hf_baseline, w));
  bool all_ok = true;
  std::string backend;
  for (size_t i = 0; i < std::size(kStages); ++i) {
    if (o.skip_int4 && i == kInt4Stage) continue;
    const Stage& stage = kStages[i];
    const int number = static_cast<int>(i + 1);
    const bool int4 = stage.int4 && !o.skip_int4;
    nlohmann::json s;
    try {
      s = run_stage(o, stage, number, int4 ? int4_dir : model_dir, int4, target, log_dir, backend);
      if (s["failed"].get<int64_t>() > 0) all_ok = false;
    } catch (const Error& e) {
      log_error("stage ", number, " failed: ", e.what());
      s = {{"stage", number}, {"name", stage.name}, {"error", e.what()}};
      all_ok = false;
    }
    result["stages"].push_back(std::move(s));
    if (result["gpu"].is_null() && !backend.empty()) result["gpu"] = gpu_name(o, backend);
    if (!o.json_path.empty()) write_json_file(o.json_path, result);  // after every stage: partial results survive
  }
  if (result["gpu"].is_null()) result["gpu"] = o.gpu.empty() ? "unknown" : o.gpu;
  result["summary"] = summary_of(result["stages"]);
  if (!o.json_path.empty()) write_json_file(o.json_path, result);
  std::cout << "\n"
            << result["model"].get<std::string>() << " on " << result["gpu"].get<std::string>() << ", " << w.input_len
            << "-token prompts, " << w.output_len << " output tokens, " << w.num_prompts << " requests, concurrency "
            << o.client.concurrency << ", commit " << result["commit"].get<std::string>() << ", "
            << result["date"].get<std::string>() << "\n\n"
            << markdown_table(result);
  const nlohmann::json& sum = result["summary"];
  if (sum.contains("last_over_first"))
    std::cout << "\nstage " << sum["last_stage"].get<int>() << " / stage " << sum["first_stage"].get<int>() << ": "
              << cell(sum["last_over_first"], "%.2f") << "x requests/min; each stage at least as fast as the one "
              << "before: " << (sum["monotone"].get<bool>() ? "yes" : "no") << "\n";
  if (backend == "cpu") std::cout << "\n(CPU backend: no CUDA graphs, so stage 5 runs as stage 4.)\n";
  std::cout << std::flush;
  if (!all_ok) set_exit_code(1);
}

}  // namespace

void add_bench_ablation_command(CLI::App& bench) {
  auto o = std::make_shared<AblationOptions>();
  BenchClientOptions& c = o->client;
  c.workload.input_len = 2048;
  c.workload.output_len = 512;
  c.workload.range_ratio = 0.5;
  // More requests offered than the first stages can hold, so the concurrency column shows
  // what INT4 weights and the paged cache let the server keep resident (the article's point).
  c.workload.num_prompts = 256;
  c.concurrency = 128;
  c.ignore_eos = true;
  c.warmup = 2;
  CLI::App* cmd = bench.add_subcommand(
      "ablation",
      "The source article's five stages, each a configuration of tern started as a server and measured with one "
      "workload: BF16 + static batches + contiguous KV + eager, + INT4, + paged KV, + continuous batching, + CUDA "
      "graphs. Prints TTFT, throughput, peak memory and concurrency per stage");
  add_engine_options(*cmd, o->engine);
  for (const char* set_by_stage : {"--scheduler", "--kv-layout", "--enforce-eager", "--cuda-graphs"}) {
    cmd->remove_option(cmd->get_option(set_by_stage));
  }
  cmd->add_option("--int4-model", o->int4_model,
                  "the INT4 (GPTQ) copy of --model; made with tern quantize when the folder does not exist "
                  "(default: <model>-int4 next to the model)");
  cmd->add_option("--quantize-method", o->quantize_method, "how to make the INT4 copy: rtn (fast) or gptq")
      ->check(CLI::IsMember({"rtn", "gptq"}))
      ->capture_default_str();
  cmd->add_flag("--skip-int4", o->skip_int4,
                "leave out the INT4 stage and run the later stages on the BF16 weights (for a backend without "
                "INT4 kernels)");
  add_load_options(*cmd, c);
  add_prompt_source_options(*cmd, c);
  add_prompt_options(*cmd, c);
  add_request_options(*cmd, c);
  cmd->add_option("--json", o->json_path, "write the results here (rewritten after each stage)");
  cmd->add_option("--gpu", o->gpu, "GPU name to record (default: nvidia-smi's)");
  cmd->add_option("--commit", o->commit, "commit to record (default: git's, when run from a checkout)");
  cmd->add_option("--log-dir", o->log_dir, "folder for the servers' logs (default: a new one in /tmp)");
  cmd->add_option("--hf-baseline", o->hf_baseline,
                  "JSON of tools/hf_static_baseline.py measured on this machine: shown as stage 0 (HF transformers "
                  "generate() in static batches; the run with this workload's lengths and the largest batch)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--startup-timeout", o->startup_timeout_s, "seconds a server may take to load and become ready")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  cmd->callback([o] { run_ablation(*o); });
}

}  // namespace tern::app
