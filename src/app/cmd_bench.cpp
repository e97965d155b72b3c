// tern bench, the parent of the benchmark subcommands (bench_commands.h), and tern bench
// engine: load the model once and measure the engine in-process (no HTTP): one load of
// --num-requests requests, or --suite, the set of numbers the BF16/INT4 results files
// hold (batch-1 decode, time to first token, decode throughput by batch, a 64 x 1024/1024
// serving load, KV tokens resident), or the decodes' latency while a long prompt arrives.
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "app/bench_commands.h"
#include "app/commands.h"
#include "app/engine_load_generator.h"
#include "app/engine_options.h"
#include "base/error.h"
#include "base/log.h"

namespace tern::app {
namespace {

struct BenchOptions {
  EngineOptions engine;
  bool suite = false;
  LoadSpec load;
  InterferenceSpec interference;  // run when long_prompt_len > 0 (--interference-prompt-len)
  std::string json_path;
  std::string gpu;
  std::string commit;
  std::string weights;  // empty: the loaded model's format
  double copy_bandwidth_gbps = 0.0;
  double weight_bytes = 0.0;
};

nlohmann::json summary(const LoadResult& r) {
  return {{"duration_s", r.duration_s},
          {"output_tokens", r.output_tokens},
          {"failed", r.failed},
          {"output_tokens_per_s", double(r.output_tokens) / r.duration_s},
          {"median_ttft_ms", 1000 * median(r.ttft_s)},
          {"median_itl_ms", 1000 * median(r.itl_s)},
          {"median_decode_tokens_per_s", median(r.decode_tokens_per_s)}};
}

double total(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}

nlohmann::json run_suite(Engine& engine, int32_t vocab) {
  nlohmann::json out;
  auto load = [&](int32_t n, int32_t in, int32_t outl, uint64_t seed) {
    LoadSpec spec{.num_requests = n, .input_len = in, .output_len = outl, .seed = seed, .vocab_size = vocab};
    LoadResult r = run_load(engine, spec);
    if (r.failed) throw error("benchmark load of ", n, " x ", in, "/", outl, ": ", r.failed, " requests failed");
    log_info("bench ", n, " x ", in, "/", outl, ": ", summary(r).dump());
    return r;
  };
  uint64_t seed = 100;
  load(4, 128, 16, seed++);  // warm-up
  out["decode_b1_tokens_per_s"] = median(load(1, 128, 256, seed++).decode_tokens_per_s);
  out["decode_b1_ctx2048_tokens_per_s"] = median(load(1, 2048, 256, seed++).decode_tokens_per_s);
  std::vector<double> ttft;
  for (int i = 0; i < 5; ++i) ttft.push_back(load(1, 2048, 1, seed++).ttft_s[0]);
  out["ttft_2048_ms"] = 1000 * median(ttft);
  nlohmann::json by_batch = nlohmann::json::object();
  for (int32_t batch : {1, 8, 32, 64, 128, 256}) {
    if (batch > engine.sizes().max_num_seqs) break;
    by_batch[std::to_string(batch)] = total(load(batch, 128, 128, seed++).decode_tokens_per_s);
  }
  out["decode_tokens_per_s_by_batch"] = by_batch;
  LoadResult serve = load(64, 1024, 1024, seed++);
  out["serve_64x1024x1024_output_tokens_per_s"] = double(serve.output_tokens) / serve.duration_s;
  out["serve_64x1024x1024_median_itl_ms"] = 1000 * median(serve.itl_s);
  out["serve_64x1024x1024_median_ttft_ms"] = 1000 * median(serve.ttft_s);
  return out;
}

void run_bench(const BenchOptions& b) {
  LoadedEngine loaded = open_engine(b.engine);
  Engine& engine = *loaded.engine;
  engine.start();
  const int32_t vocab = loaded.tokenizer->vocab_size();
  nlohmann::json out;
  if (b.suite) {
    out = run_suite(engine, vocab);
  } else if (b.interference.long_prompt_len > 0) {
    InterferenceSpec spec = b.interference;
    spec.vocab_size = vocab;
    const InterferenceResult r = run_interference(engine, spec);
    out["interference"] = {{"decodes", spec.decodes},
                           {"decode_input_len", spec.decode_input_len},
                           {"long_prompt_len", spec.long_prompt_len},
                           {"target_itl_ms", b.engine.target_itl_ms},
                           {"long_prompt_ttft_ms", 1000 * r.long_prompt_ttft_s},
                           {"decode_tokens", r.decode_tokens},
                           {"itl_ms_median", 1000 * median(r.itl_s)},
                           {"itl_ms_p99", 1000 * percentile(r.itl_s, 99)},
                           {"itl_ms_max", 1000 * percentile(r.itl_s, 100)}};
  } else {
    LoadSpec spec = b.load;
    spec.vocab_size = vocab;
    out = summary(run_load(engine, spec));
  }
  const EngineStats stats = engine.stats();
  engine.stop();
  out["kv_tokens_resident"] = int64_t(stats.num_kv_blocks) * engine.sizes().block_size;
  if (b.engine.speculative_method != "none") {
    const SpeculationStats& spec = stats.speculation;
    int64_t verify_steps = 0;
    for (int64_t n : spec.accepted_per_step) verify_steps += n;
    out["speculative"] = {
        {"method", b.engine.speculative_method},
        {"num_speculative_tokens", b.engine.speculative.num_tokens},
        {"draft_tokens", spec.num_draft_tokens},
        {"accepted_tokens", spec.num_accepted_tokens},
        {"acceptance_rate", spec.num_draft_tokens > 0 ? double(spec.num_accepted_tokens) / spec.num_draft_tokens : 0.0},
        // Tokens a verifying step gave a sequence: its accepted drafts and one more.
        {"tokens_per_verify_step",
         verify_steps > 0 ? double(spec.num_accepted_tokens + verify_steps) / double(verify_steps) : 0.0}};
  }
  out["weights"] = b.weights.empty() ? loaded.weight_format : b.weights;
  out["weights_gib"] = double(loaded.weights_device_bytes) / double(1ull << 30);
  out["model"] = loaded.model_name;
  if (!b.gpu.empty()) out["gpu"] = b.gpu;
  if (!b.commit.empty()) out["commit"] = b.commit;
  std::time_t now = std::time(nullptr);
  char date[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  out["date"] = date;
  if (b.copy_bandwidth_gbps > 0 && b.weight_bytes > 0) {
    out["copy_bandwidth_gbps"] = b.copy_bandwidth_gbps;
    out["decode_b1_floor_tokens_per_s"] = b.copy_bandwidth_gbps * 1e9 / b.weight_bytes;
  }
  const std::string text = out.dump(1);
  std::cout << text << "\n";
  if (!b.json_path.empty()) {
    std::ofstream f(b.json_path);
    if (!f) throw error(b.json_path, ": cannot write the results file");
    f << text << "\n";
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks: the engine in-process, a server over HTTP, the ablation");
  bench->require_subcommand(1);
  add_bench_engine_command(*bench);
  add_bench_serve_command(*bench);
  add_bench_sweep_command(*bench);
  add_bench_ablation_command(*bench);
}

void add_bench_engine_command(CLI::App& bench) {
  auto b = std::make_shared<BenchOptions>();
  CLI::App* cmd = bench.add_subcommand("engine", "Measure the engine in-process: latency and throughput, no HTTP");
  add_engine_options(*cmd, b->engine);
  cmd->add_flag("--suite", b->suite, "run the standard set (decode at batch 1 and 1..256, TTFT, 64 x 1024/1024 load)");
  cmd->add_option("--num-requests", b->load.num_requests, "requests in the load")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--input-len", b->load.input_len, "prompt tokens (random ids)")->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--prompt-period", b->load.prompt_period,
                  "each prompt repeats this many random ids (0: no repetition); text prompt lookup "
                  "(--speculative-method ngram) drafts from")
      ->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--output-len", b->load.output_len, "generated tokens (eos ignored)")->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--concurrency", b->load.max_concurrency, "most requests in flight (0: all at once)");
  cmd->add_option("--interference-prompt-len", b->interference.long_prompt_len,
                  "instead of a load: start --interference-decodes requests, and once they decode send one prompt "
                  "of this many tokens; report the decodes' inter-token latency until its first token, and its "
                  "time to first token (compare with and without --target-itl-ms)")
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--interference-decodes", b->interference.decodes, "decoding requests for --interference-prompt-len")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--json", b->json_path, "also write the results to this file");
  cmd->add_option("--gpu", b->gpu, "GPU name to record");
  cmd->add_option("--commit", b->commit, "commit to record");
  cmd->add_option("--weights", b->weights,
                  "weight format to record; default: the model's (bf16, gptq-int4, awq-int4, fp8)");
  cmd->add_option("--copy-bandwidth-gbps", b->copy_bandwidth_gbps, "measured device copy bandwidth, for the floor");
  cmd->add_option("--weight-bytes", b->weight_bytes, "bytes of weights read per decode step, for the floor");
  cmd->callback([b] { run_bench(*b); });
}

}  // namespace tern::app
