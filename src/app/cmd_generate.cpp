// tern generate: completions from the command line through the same engine `serve` uses.
// One prompt streams its text to stdout as it is generated; --prompts-file runs many
// prompts concurrently; --json prints one JSON object per prompt, in input order.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/chat_prompt.h"
#include "app/commands.h"
#include "app/engine_options.h"
#include "base/error.h"

namespace tern::app {
namespace {

struct GenerateOptions {
  EngineOptions engine;
  std::string prompt;
  std::string prompts_file;
  bool chat = false;
  int32_t max_tokens = 128;
  float temperature = 0.0f;
  float top_p = 1.0f;
  int32_t top_k = 0;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  int32_t logprobs = 0;
  bool json = false;
};

std::vector<std::string> read_prompts_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw error(path, ": cannot open the prompts file");
  nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  if (!j.is_array()) throw error(path, ": expected a JSON array of prompt strings");
  std::vector<std::string> prompts;
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) throw error(path, ": element ", i, " is not a string");
    prompts.push_back(j[i].get<std::string>());
  }
  if (prompts.empty()) throw error(path, ": no prompts");
  return prompts;
}

struct Completion {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> token_ids;
  std::string text;
  std::string finish_reason;
  std::string error;
  nlohmann::json logprobs = nlohmann::json::array();
};

nlohmann::json to_json(const Completion& c) {
  nlohmann::json j;
  j["prompt_ids"] = c.prompt_ids;
  j["token_ids"] = c.token_ids;
  j["text"] = c.text;
  j["finish_reason"] = c.finish_reason;
  j["logprobs"] = c.logprobs;
  if (!c.error.empty()) j["error"] = c.error;
  return j;
}

// Folds one delta into the completion; streams its text when `echo` is set.
void absorb(Completion& c, const RequestOutput& out, bool echo) {
  c.token_ids.insert(c.token_ids.end(), out.token_ids.begin(), out.token_ids.end());
  c.text += out.text;
  for (const TokenLogprob& lp : out.logprobs) {
    nlohmann::json top = nlohmann::json::array();
    for (const auto& [id, value] : lp.top_logprobs) top.push_back({{"token_id", id}, {"logprob", value}});
    c.logprobs.push_back({{"token_id", lp.token_id}, {"logprob", lp.logprob}, {"top_logprobs", top}});
  }
  if (out.finish_reason) c.finish_reason = finish_reason_name(*out.finish_reason);
  if (!out.error.empty()) c.error = out.error;
  if (echo && !out.text.empty()) {
    std::fwrite(out.text.data(), 1, out.text.size(), stdout);
    std::fflush(stdout);
  }
}

void run_generate(const GenerateOptions& g) {
  if (g.prompt.empty() == g.prompts_file.empty())
    throw error("give exactly one of --prompt TEXT and --prompts-file FILE");
  std::vector<std::string> prompts = g.prompts_file.empty() ? std::vector<std::string>{g.prompt}
                                                             : read_prompts_file(g.prompts_file);
  LoadedEngine loaded = open_engine(g.engine);
  SamplingParams params{.temperature = g.temperature,
                        .top_p = g.top_p,
                        .top_k = g.top_k,
                        .min_p = g.min_p,
                        .repetition_penalty = g.repetition_penalty,
                        .presence_penalty = g.presence_penalty,
                        .frequency_penalty = g.frequency_penalty,
                        .seed = g.seed,
                        .max_tokens = g.max_tokens,
                        .ignore_eos = g.ignore_eos,
                        .stop_token_ids = g.stop_token_ids,
                        .stop = g.stop,
                        .logprobs = g.logprobs};
  std::vector<Completion> completions(prompts.size());
  std::vector<RequestHandle> handles;
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::string text = g.chat ? render_user_prompt(loaded.model_dir, prompts[i]) : prompts[i];
    completions[i].prompt_ids = loaded.tokenizer->encode(text);
    handles.push_back(loaded.engine->add_request(completions[i].prompt_ids, params));
  }
  loaded.engine->start();
  const bool stream = !g.json && prompts.size() == 1;
  for (size_t i = 0; i < handles.size(); ++i) {
    while (std::optional<RequestOutput> out = handles[i].next()) absorb(completions[i], *out, stream);
  }
  loaded.engine->stop();
  bool failed = false;
  for (size_t i = 0; i < completions.size(); ++i) {
    const Completion& c = completions[i];
    failed = failed || !c.error.empty();
    if (g.json) {
      std::cout << to_json(c).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else if (stream) {
      std::cout << "\n";
    } else {
      std::cout << (i ? "\n" : "") << "=== prompt " << i << " (" << c.finish_reason << ")\n" << c.text << "\n";
    }
    if (!c.error.empty()) std::fprintf(stderr, "tern: prompt %zu failed: %s\n", i, c.error.c_str());
  }
  std::cout.flush();
  if (failed) set_exit_code(1);
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto g = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate completions for prompts from the command line");
  add_engine_options(*cmd, g->engine);
  cmd->add_option("--prompt", g->prompt, "the prompt, tokenized as raw text (special tokens written in it count)");
  cmd->add_option("--prompts-file", g->prompts_file, "a JSON array of prompt strings, run concurrently");
  cmd->add_flag("--chat", g->chat, "wrap each prompt as one user message with the model's chat template");
  cmd->add_option("--max-tokens", g->max_tokens, "most tokens to generate")->check(CLI::Range(1, 1 << 24))
      ->capture_default_str();
  cmd->add_option("--temperature", g->temperature, "0 is greedy")->check(CLI::Range(0.0, 100.0))->capture_default_str();
  cmd->add_option("--top-p", g->top_p, "nucleus sampling mass, (0, 1]")->check(CLI::Range(1e-6, 1.0));
  cmd->add_option("--top-k", g->top_k, "keep the k most likely tokens (0: all)")->check(CLI::Range(-1, 1 << 24));
  cmd->add_option("--min-p", g->min_p, "drop tokens below min_p times the top probability")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--repetition-penalty", g->repetition_penalty, "HF repetition penalty (1: off)")
      ->check(CLI::Range(0.01, 100.0));
  cmd->add_option("--presence-penalty", g->presence_penalty, "OpenAI presence penalty")->check(CLI::Range(-2.0, 2.0));
  cmd->add_option("--frequency-penalty", g->frequency_penalty, "OpenAI frequency penalty")->check(CLI::Range(-2.0, 2.0));
  cmd->add_option("--seed", g->seed, "seed for sampling: the same seed gives the same output");
  cmd->add_option("--stop", g->stop, "stop string (repeatable); the matched text is not printed");
  cmd->add_option("--stop-token-id", g->stop_token_ids, "stop token id (repeatable)");
  cmd->add_flag("--ignore-eos", g->ignore_eos, "keep generating past end-of-sequence tokens");
  cmd->add_option("--logprobs", g->logprobs, "with --json: top alternatives to list per token")
      ->check(CLI::Range(0, 20));
  cmd->add_flag("--json", g->json, "print {prompt_ids, token_ids, text, finish_reason, logprobs} per prompt");
  cmd->callback([g] { run_generate(*g); });
}

}  // namespace tern::app
