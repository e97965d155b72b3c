// `tern generate` end to end: prompt ids and greedy continuations equal Hugging Face's on
// every tiny model, --prompts-file keeps input order, and a malformed model folder is a
// one-line error with exit code 1, never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_support.h"

namespace tern {
namespace {

using testing::run_tern;
using testing::TempDir;
namespace fs = std::filesystem;
const fs::path kData = TERN_TEST_DATA;

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

TEST(CliGenerate, GreedyJsonReproducesTransformersOnEveryTinyModel) {
  for (const auto& entry : fs::directory_iterator(kData / "golden")) {
    if (entry.path().extension() != ".json") continue;
    nlohmann::json golden = nlohmann::json::parse(std::ifstream(entry.path()));
    const std::string model = (kData / golden["model"].get<std::string>()).string();
    for (const auto& c : golden["cases"]) {
      if (c["text"].is_null()) continue;
      auto r = run_tern("generate --quiet --model " + quote(model) + " --prompt " + quote(c["text"]) +
                        " --max-tokens 16 --ignore-eos --json");
      ASSERT_EQ(r.exit_code, 0) << r.err;
      nlohmann::json out = nlohmann::json::parse(r.out);
      EXPECT_EQ(out["prompt_ids"], c["prompt_ids"]) << entry.path().filename() << ": " << c["text"];
      EXPECT_EQ(out["token_ids"], c["greedy_ids"]) << entry.path().filename() << ": " << c["text"];
      EXPECT_EQ(out["finish_reason"], "length");
      EXPECT_EQ(out["logprobs"].size(), 16u);
    }
  }
}

TEST(CliGenerate, PromptsFilePrintsOneObjectPerPromptInInputOrder) {
  TempDir dir;
  const std::string file = dir.write("prompts.json", R"(["Hello", "你好", "def f(x):", "Hello"])");
  auto r = run_tern("generate --quiet --model " + quote((kData / "models/tiny-qwen2").string()) + " --prompts-file " +
                    quote(file) + " --max-tokens 8 --ignore-eos --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::vector<nlohmann::json> outs;
  for (std::string line; std::getline(lines, line);) outs.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(outs.size(), 4u);
  EXPECT_EQ(outs[0]["token_ids"], outs[3]["token_ids"]) << "the same prompt gives the same greedy output";
  EXPECT_NE(outs[0]["prompt_ids"], outs[1]["prompt_ids"]);
}

TEST(CliGenerate, SameSeedSameSample) {
  const std::string args = "generate --quiet --model " + quote((kData / "models/tiny-llama3").string()) +
                           " --prompt Hello --max-tokens 12 --ignore-eos --temperature 1.0 --top-p 0.9 --json";
  auto a = run_tern(args + " --seed 7"), b = run_tern(args + " --seed 7"), c = run_tern(args + " --seed 8");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(nlohmann::json::parse(a.out)["token_ids"], nlohmann::json::parse(b.out)["token_ids"]);
  EXPECT_NE(nlohmann::json::parse(a.out)["token_ids"], nlohmann::json::parse(c.out)["token_ids"]);
}

// --threads sizes the CPU backend's worker pool, as the startup log reports; without it
// TERN_NUM_THREADS (2 under run_tern) does.
TEST(CliGenerate, ThreadsSizesTheCpuWorkerPool) {
  const std::string args =
      "generate --backend cpu --model " + quote((kData / "models/tiny-qwen2").string()) + " --prompt Hi --max-tokens 1";
  for (const auto& [flag, expected] : {std::pair{" --threads 3", "on backend cpu (3 worker threads)"},
                                       std::pair{" --threads 1", "on backend cpu (1 worker thread)"},
                                       std::pair{"", "on backend cpu (2 worker threads)"}}) {
    auto r = run_tern(args + flag);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << "with '" << flag << "': " << r.err;
  }
}

// Graphs are opt-in while their replays are wrong on the GPU (docs/performance.md, "CUDA
// graph replays"): both flags parse, and asking for both at once is refused.
TEST(CliGenerate, CudaGraphsAreOptInAndExcludeEnforceEager) {
  const std::string args =
      "generate --quiet --backend cpu --model " + quote((kData / "models/tiny-qwen2").string()) + " --prompt Hi";
  EXPECT_EQ(run_tern(args + " --max-tokens 1 --cuda-graphs").exit_code, 0);
  EXPECT_EQ(run_tern(args + " --max-tokens 1 --enforce-eager").exit_code, 0);
  auto both = run_tern(args + " --max-tokens 1 --cuda-graphs --enforce-eager");
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.err.find("excludes"), std::string::npos) << both.err;
}

TEST(CliGenerate, MalformedModelFolderIsAOneLineErrorNotACrash) {
  TempDir dir;
  for (const auto& f : fs::directory_iterator(kData / "models/tiny-qwen2")) fs::copy(f.path(), dir.path());
  // Truncate the weights: the loader must name the file and refuse it.
  fs::resize_file(fs::path(dir.path()) / "model.safetensors", 5000);
  auto r = run_tern("generate --quiet --model " + quote(dir.path()) + " --prompt Hello");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("tern: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("model.safetensors"), std::string::npos) << r.err;

  dir.write("config.json", R"({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"})");
  r = run_tern("generate --quiet --model " + quote(dir.path()) + " --prompt Hello");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Qwen2ForCausalLM"), std::string::npos) << "lists what is supported: " << r.err;

  r = run_tern("generate --quiet --model /nonexistent/model --prompt Hello");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// generation_config.json is read strictly, like the model's other JSON files: a field of the
// wrong type stops the load with one line naming the file and the field.
TEST(CliGenerate, AWrongTypeInGenerationConfigNamesTheFileAndField) {
  TempDir dir;
  for (const auto& f : fs::directory_iterator(kData / "models/tiny-qwen2")) fs::copy(f.path(), dir.path());
  for (const auto& [config, field] : {std::pair{R"({"eos_token_id": "1002"})", "eos_token_id"},
                                      std::pair{R"({"eos_token_id": [1002, null]})", "eos_token_id[1]"}}) {
    dir.write("generation_config.json", config);
    const auto r = run_tern("generate --quiet --model " + quote(dir.path()) + " --prompt Hello");
    EXPECT_EQ(r.exit_code, 1) << config;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("generation_config.json: " + std::string(field) + ": expected an integer"), std::string::npos)
        << r.err;
  }
}

}  // namespace
}  // namespace tern
