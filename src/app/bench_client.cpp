#include "app/bench_client.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "base/error.h"
#include "base/log.h"
#include "loadgen/http_fetch.h"
#include "loadgen/load_runner.h"

namespace tern::app {

void add_prompt_source_options(CLI::App& cmd, BenchClientOptions& o) {
  loadgen::WorkloadSpec& w = o.workload;
  cmd.add_option("--input-len", w.input_len, "prompt tokens of each random prompt (after the shared prefix)")
      ->check(CLI::Range(1, 1 << 24))
      ->capture_default_str();
  cmd.add_option("--output-len", w.output_len,
                 "output tokens asked for (max_tokens); with --dataset, overrides each reply's length")
      ->check(CLI::Range(1, 1 << 24))
      ->each([&w](const std::string& value) { w.dataset_output_len = std::stoi(value); })
      ->capture_default_str();
  cmd.add_option("--dataset", w.dataset_path,
                 "ShareGPT-format JSON (a list of {\"conversations\": [{\"from\", \"value\"}, ...]}): the first turn "
                 "is the prompt, the reply's token count the output length");
}

void add_prompt_options(CLI::App& cmd, BenchClientOptions& o) {
  loadgen::WorkloadSpec& w = o.workload;
  cmd.add_option("--range-ratio", w.range_ratio,
                 "draw each prompt's input and output lengths uniformly from len * [1 - r, 1 + r]")
      ->check(CLI::Range(0.0, 0.99))
      ->capture_default_str();
  cmd.add_option("--shared-prefix-len", w.shared_prefix_len,
                 "tokens every prompt starts with (one shared system prompt, to measure prefix caching)")
      ->check(CLI::Range(0, 1 << 24))
      ->capture_default_str();
  cmd.add_option("--seed", w.seed, "seed of the prompts and arrival times")->capture_default_str();
  cmd.add_option("--tokenizer", o.tokenizer_dir,
                 "model folder whose tokenizer.json makes prompts of exact token lengths (token-id prompts for "
                 "/v1/completions); without it prompts are random words, about one token each");
  cmd.add_option("--prompt-format", o.prompt_format,
                 "ids (prompt: [token ids], exact; needs --tokenizer and the completions endpoint), text, or auto "
                 "(ids when possible)")
      ->check(CLI::IsMember({"auto", "ids", "text"}))
      ->capture_default_str();
}

void add_model_option(CLI::App& cmd, BenchClientOptions& o) {
  cmd.add_option("--model", o.model, "model id to send; default: the first one GET /v1/models lists");
}

void add_request_options(CLI::App& cmd, BenchClientOptions& o) {
  cmd.add_option("--endpoint", o.endpoint, "completions (/v1/completions) or chat (/v1/chat/completions)")
      ->check(CLI::IsMember({"completions", "chat"}))
      ->capture_default_str();
  cmd.add_flag("--ignore-eos", o.ignore_eos,
               "ask the server to generate all max_tokens (ignore_eos: vLLM, SGLang, llama-server and tern accept it)");
  cmd.add_option("--temperature", o.temperature, "sampling temperature (0: greedy)")
      ->check(CLI::Range(0.0, 2.0))
      ->capture_default_str();
  cmd.add_option("--response-format", o.response_format_file,
                 "structured output: a JSON file holding a JSON schema (sent as response_format json_schema) or a "
                 "whole response_format object, sent with every request")
      ->check(CLI::ExistingFile);
  cmd.add_option("--timeout", o.timeout_s, "seconds a request may take in all before it counts as failed (0: none)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd.add_option("--api-key", o.api_key, "sent as Authorization: Bearer KEY");
  cmd.add_option("--warmup", o.warmup, "short requests sent first and not measured; if all fail, nothing is run")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  cmd.add_option("--slo-ttft-ms", o.slo.ttft_ms, "goodput: a request is good if its TTFT is at most this");
  cmd.add_option("--slo-tpot-ms", o.slo.tpot_ms, "goodput: ... and its time per output token at most this");
  cmd.add_flag_callback(
      "--no-progress", [&o] { o.progress = false; }, "no live progress line on stderr");
}

void add_load_options(CLI::App& cmd, BenchClientOptions& o) {
  cmd.add_option("--concurrency", o.concurrency,
                 "requests in flight at once: a closed loop (each finished request is replaced at once); with "
                 "--request-rate, a cap")
      ->check(CLI::Range(1, 1 << 20));
  cmd.add_option("--request-rate", o.request_rate, "requests per second, Poisson arrivals")->check(CLI::PositiveNumber);
  cmd.add_option("--num-prompts", o.workload.num_prompts, "requests to send")
      ->check(CLI::Range(1, 1 << 24))
      ->capture_default_str();
}

BenchTarget open_target(const BenchClientOptions& o, const std::string& url) {
  BenchTarget t;
  t.url = loadgen::parse_http_url(url);
  if (!o.tokenizer_dir.empty()) t.tokenizer = Tokenizer::load(o.tokenizer_dir);
  t.model = o.model;
  if (t.model.empty()) {
    const loadgen::FetchResult r = loadgen::http_fetch(t.url, "GET", "/v1/models", 30, o.api_key);
    const nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object() || !j.contains("data") || !j["data"].is_array() || j["data"].empty() ||
        !j["data"][0].contains("id") || !j["data"][0]["id"].is_string()) {
      throw error("GET ", t.url.text(), "/v1/models answered ", r.status, " without a model id (",
                  loadgen::error_message_of(r.body), "): pass --model");
    }
    t.model = j["data"][0]["id"].get<std::string>();
  }
  return t;
}

namespace {

bool use_token_ids(const BenchClientOptions& o, const BenchTarget& t) {
  const bool possible = t.tokenizer != nullptr && o.endpoint == "completions";
  if (o.prompt_format == "ids" && !possible) {
    throw error("--prompt-format ids needs --tokenizer and --endpoint completions");
  }
  return o.prompt_format == "ids" || (o.prompt_format == "auto" && possible);
}

nlohmann::json settings_json(const BenchClientOptions& o, const BenchTarget& t, bool token_ids) {
  const loadgen::WorkloadSpec& w = o.workload;
  const bool dataset = !w.dataset_path.empty();
  const auto nullable = [](auto v, bool set) { return set ? nlohmann::json(v) : nlohmann::json(); };
  return {{"url", t.url.text()},
          {"model", t.model},
          {"endpoint",
           loadgen::endpoint_path(o.endpoint == "chat" ? loadgen::Endpoint::kChat : loadgen::Endpoint::kCompletions)},
          {"date", utc_date()},
          {"workload",
           {{"num_prompts", w.num_prompts},
            {"dataset", nullable(w.dataset_path, dataset)},
            {"input_len", nullable(w.input_len, !dataset)},
            {"output_len", nullable(dataset ? w.dataset_output_len : w.output_len, !dataset || w.dataset_output_len)},
            {"range_ratio", w.range_ratio},
            {"shared_prefix_len", w.shared_prefix_len},
            {"prompt_format", token_ids ? "ids" : "text"},
            {"exact_lengths", t.tokenizer != nullptr},
            {"ignore_eos", o.ignore_eos},
            {"temperature", o.temperature},
            {"response_format", nullable(o.response_format_file, !o.response_format_file.empty())},
            {"seed", w.seed}}},
          {"load",
           {{"concurrency", nullable(o.concurrency, o.concurrency > 0)},
            {"request_rate", nullable(o.request_rate, o.request_rate > 0)}}}};
}

// --response-format FILE as the response_format to send: the file's object when it has a
// "type", else the file is a JSON schema.
std::string response_format_of(const std::string& path) {
  if (path.empty()) return {};
  std::ifstream f(path, std::ios::binary);
  const std::string text{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw error("--response-format ", path, ": not a JSON object");
  const nlohmann::json type = j.value("type", nlohmann::json());
  if (type == "json_schema" || type == "json_object" || type == "text") return j.dump();
  return nlohmann::json{{"type", "json_schema"}, {"json_schema", {{"name", "bench"}, {"schema", j}}}}.dump();
}

}  // namespace

nlohmann::json run_benchmark(const BenchClientOptions& o, const BenchTarget& target, const std::string& label) {
  if (o.concurrency <= 0 && o.request_rate <= 0) throw error("give --concurrency C or --request-rate R (or both)");
  const bool token_ids = use_token_ids(o, target);
  loadgen::WorkloadSpec spec = o.workload;
  spec.token_ids = token_ids;
  const loadgen::RequestSettings settings{
      .model = target.model,
      .endpoint = o.endpoint == "chat" ? loadgen::Endpoint::kChat : loadgen::Endpoint::kCompletions,
      .temperature = o.temperature,
      .ignore_eos = o.ignore_eos,
      .response_format = response_format_of(o.response_format_file)};
  const loadgen::StreamClientConfig client{.url = target.url, .api_key = o.api_key, .timeout_s = o.timeout_s};

  if (o.warmup > 0) {
    loadgen::WorkloadSpec warm = spec;
    warm.num_prompts = o.warmup;
    warm.seed = spec.seed + 0x9e3779b97f4a7c15ull;  // other prompts: no prefix-cache head start
    std::vector<loadgen::BenchPrompt> prompts = loadgen::make_workload(warm, target.tokenizer.get());
    for (loadgen::BenchPrompt& p : prompts) p.max_tokens = std::min(p.max_tokens, 16);
    const loadgen::LoadRun run =
        loadgen::run_load(client, settings, prompts, {.concurrency = o.warmup, .progress = false});
    const auto ok = std::ranges::find_if(run.records, [](const loadgen::RequestRecord& r) { return r.ok; });
    if (ok == run.records.end()) {
      const loadgen::RequestRecord& r = run.records.front();
      throw error("every warm-up request to ", target.url.text(), " failed; the first: ", r.error_class, ": ",
                  r.error_message, " (check --url, --model and --api-key; --warmup 0 measures anyway)");
    }
  }

  const std::vector<loadgen::BenchPrompt> prompts = loadgen::make_workload(spec, target.tokenizer.get());
  const loadgen::LoadRun run = loadgen::run_load(client, settings, prompts,
                                                 {.concurrency = o.concurrency,
                                                  .request_rate = o.request_rate,
                                                  .seed = spec.seed,
                                                  .progress = o.progress,
                                                  .label = label});
  nlohmann::json report = settings_json(o, target, token_ids);
  report.update(loadgen::make_report(run, o.slo));
  return report;
}

std::string utc_date() {
  const std::time_t now = std::time(nullptr);
  char date[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  return date;
}

void write_json_file(const std::string& path, const nlohmann::json& j) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    if (!f) throw error(path, ": cannot write the results file");
    f << j.dump(1) << "\n";
    if (!f) throw error(path, ": writing the results file failed");
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace tern::app
