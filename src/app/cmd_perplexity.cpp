// tern perplexity: how well a model predicts a text, teacher-forced. Every token is scored
// by the model's log-probability given its prefix (sliding windows as in Hugging Face's
// perplexity recipe, model/perplexity.h); the report is the mean negative log-likelihood
// and its exponential, the perplexity. Compares a quantized model with its dense original
// on the same text, or checks a backend against another.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/hf_cache.h"
#include "app/engine_options.h"
#include "base/error.h"
#include "base/log.h"
#include "model/perplexity.h"
#include "tokenizer/tokenizer.h"

namespace tern::app {
namespace {

struct PerplexityOptions {
  std::string model;
  std::string revision = kDefaultRevision;
  std::string text_file;
  std::string jsonl_file;
  int64_t context = 0;  // 0: min(1024, max_position_embeddings)
  int64_t stride = 0;   // 0: context / 2
  std::string backend = "cpu";
  int threads = 0;
  std::string kv_cache_dtype = "auto";
  bool calculate_kv_scales = false;
  bool json = false;
  bool quiet = false;
};

// One document: its ids and the first one scored (1, or the first after a prompt).
struct Document {
  std::vector<int32_t> ids;
  int64_t first_scored = 1;
};

std::string read_file(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw error(path, ": cannot open the ", what);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// A {"text"} line scores every token; a {"prompt", "completion"} line scores the
// completion's tokens only, split where the prompt's own tokens end (as lm-evaluation-
// harness splits context and continuation).
Document parse_jsonl_line(const Tokenizer& tok, const std::string& line, const std::string& where) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) throw error(where, ": not a JSON object");
  auto string_field = [&](const char* key) {
    if (!j.contains(key) || !j.at(key).is_string()) throw error(where, ": \"", key, "\" must be a string");
    return j.at(key).get<std::string>();
  };
  const bool text = j.contains("text"), pair = j.contains("prompt") || j.contains("completion");
  if (text == pair) throw error(where, ": expected either \"text\" or \"prompt\" and \"completion\"");
  if (text) return Document{.ids = tok.encode(string_field("text"))};
  const std::string prompt = string_field("prompt"), completion = string_field("completion");
  return Document{.ids = tok.encode(prompt + completion), .first_scored = int64_t(tok.encode(prompt).size())};
}

std::vector<Document> read_documents(const PerplexityOptions& o, const Tokenizer& tok) {
  std::vector<Document> docs;
  if (!o.text_file.empty()) {
    const std::string text = read_file(o.text_file, "text");
    if (text.empty()) throw error(o.text_file, ": the text is empty");
    docs.push_back(Document{.ids = tok.encode(text)});
    return docs;
  }
  std::ifstream f(o.jsonl_file, std::ios::binary);
  if (!f) throw error(o.jsonl_file, ": cannot open the JSON lines file");
  int64_t line_number = 0;
  for (std::string line; std::getline(f, line);) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    docs.push_back(parse_jsonl_line(tok, line, o.jsonl_file + ":" + std::to_string(line_number)));
  }
  if (docs.empty()) throw error(o.jsonl_file, ": no documents");
  return docs;
}

void run_perplexity(const PerplexityOptions& o) {
  if (o.text_file.empty() == o.jsonl_file.empty()) throw error("give exactly one of --text FILE and --jsonl FILE");
  const auto start = std::chrono::steady_clock::now();
  const std::string model_dir = resolve_model_option(o.model, o.revision).dir;
  const auto tokenizer = Tokenizer::load(model_dir);
  const std::vector<Document> docs = read_documents(o, *tokenizer);

  std::unique_ptr<Backend> backend = open_backend(o.backend, o.threads);
  if (!o.quiet) log_info("model ", model_dir, " on backend ", describe_backend(*backend));
  const std::unique_ptr<LlamaModel> model = load_model_with_progress(model_dir, *backend, o.quiet);
  apply_kv_cache_options(*model, {.dtype = o.kv_cache_dtype, .calculate_scales = o.calculate_kv_scales}, model_dir,
                         o.quiet);
  const int64_t max_positions = model->config().max_position_embeddings;
  const int64_t context = o.context > 0 ? o.context : std::min<int64_t>(1024, max_positions);
  if (context > max_positions)
    throw error("--context ", context, " exceeds the model's max_position_embeddings ", max_positions);
  const PerplexityWindow window{.context = context,
                                .stride = o.stride > 0 ? o.stride : std::max<int64_t>(1, context / 2)};
  SequenceLogits evaluator(*model, context);

  NllSum total;
  auto last_report = std::chrono::steady_clock::now();
  for (size_t d = 0; d < docs.size(); ++d) {
    total += document_nll(evaluator, docs[d].ids, docs[d].first_scored, window, [&](const NllSum& doc) {
      const auto now = std::chrono::steady_clock::now();
      if (o.quiet || now - last_report < std::chrono::seconds(10)) return;
      last_report = now;
      NllSum so_far = total;
      so_far += doc;
      log_info("perplexity: document ", d + 1, " of ", docs.size(), ", ", so_far.tokens, " tokens scored, perplexity ",
               so_far.perplexity(), " so far");
    });
  }
  if (total.tokens == 0) throw error("nothing to score: no document has a token after its first (or its prompt)");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (o.json) {
    nlohmann::json j{{"model", model_dir},        {"backend", backend->name()}, {"documents", docs.size()},
                     {"kv_cache_dtype", dtype_name(model->kv_cache_dtype())},
                     {"tokens", total.tokens},    {"nll", total.mean()},        {"perplexity", total.perplexity()},
                     {"context", window.context}, {"stride", window.stride},    {"seconds", seconds}};
    std::cout << j.dump() << "\n";
  } else {
    std::printf(
        "perplexity %.4f (mean NLL %.4f nats) over %lld tokens of %zu document%s; context %lld, stride %lld; "
        "%.1f s\n",
        total.perplexity(), total.mean(), (long long)total.tokens, docs.size(), docs.size() == 1 ? "" : "s",
        (long long)window.context, (long long)window.stride, seconds);
  }
}

}  // namespace

void add_perplexity_command(CLI::App& app) {
  auto o = std::make_shared<PerplexityOptions>();
  CLI::App* cmd = app.add_subcommand(
      "perplexity", "Perplexity of a model on a text: mean negative log-likelihood of each token given its prefix");
  add_model_options(*cmd, o->model, o->revision,
                    "a Hugging Face model folder; default: the built-in demo model models/tern-demo");
  cmd->add_option("--text", o->text_file, "a text file, scored as one document");
  cmd->add_option("--jsonl", o->jsonl_file,
                  "one JSON object per line, each its own document: {\"text\": ...} scores every token, "
                  "{\"prompt\": ..., \"completion\": ...} only the completion's");
  cmd->add_option("--context", o->context, "tokens per window (default: 1024, or the model's maximum if smaller)")
      ->check(CLI::Range(int64_t(2), int64_t(1) << 24));
  cmd->add_option("--stride", o->stride,
                  "tokens between window starts; each token is scored with at least context - stride tokens of "
                  "prefix (default: context / 2; with stride = context, windows are disjoint and their first tokens "
                  "go unscored)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 24));
  cmd->add_option("--backend", o->backend, "cpu (F32, the reference), cuda, or auto (cuda when a GPU is usable)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  add_threads_option(*cmd, o->threads);
  add_kv_cache_options(*cmd, o->kv_cache_dtype, o->calculate_kv_scales);
  cmd->add_flag("--json", o->json,
                "print {model, backend, documents, tokens, nll, perplexity, context, stride, seconds} as one line");
  cmd->add_flag("--quiet", o->quiet, "no progress output");
  cmd->callback([o] { run_perplexity(*o); });
}

}  // namespace tern::app
