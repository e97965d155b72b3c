// `--tensor-parallel-size` end to end on the CPU backend: `tern generate` split over two
// ranks reproduces Hugging Face's greedy continuations of the tiny models, concurrent
// prompts included, and a size that cannot split the model is a one-line error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_support.h"

namespace tern {
namespace {

using testing::run_tern;
using testing::TempDir;
namespace fs = std::filesystem;
const fs::path kData = TERN_TEST_DATA;

TEST(CliTensorParallel, TwoRanksReproduceTransformersGreedyTokens) {
  for (const char* name : {"tiny-qwen2", "tiny-llama3"}) {
    nlohmann::json golden = nlohmann::json::parse(std::ifstream(kData / "golden" / (std::string(name) + ".json")));
    TempDir dir;
    nlohmann::json prompts = nlohmann::json::array();
    for (const auto& c : golden["cases"])
      if (!c["text"].is_null()) prompts.push_back(c["text"]);
    const std::string file = dir.write("prompts.json", prompts.dump());
    auto r = run_tern("generate --quiet --backend cpu --tensor-parallel-size 2 --model '" +
                      (kData / "models" / name).string() + "' --prompts-file '" + file +
                      "' --max-tokens 16 --ignore-eos --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    size_t i = 0;
    for (const auto& c : golden["cases"]) {
      if (c["text"].is_null()) continue;
      std::string line;
      ASSERT_TRUE(std::getline(lines, line)) << name << ": prompt " << i;
      const nlohmann::json out = nlohmann::json::parse(line);
      EXPECT_EQ(out["prompt_ids"], c["prompt_ids"]) << name << ": " << c["text"];
      EXPECT_EQ(out["token_ids"], c["greedy_ids"]) << name << ": " << c["text"];
      ++i;
    }
  }
}

TEST(CliTensorParallel, ASizeThatDoesNotSplitTheModelIsAOneLineError) {
  auto r = run_tern("generate --quiet --backend cpu --tensor-parallel-size 3 --model '" +
                    (kData / "models/tiny-qwen2").string() + "' --prompt Hello");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("tern: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("--tensor-parallel-size 3 does not divide the model's 2 KV heads"), std::string::npos) << r.err;

  r = run_tern("generate --quiet --backend cpu --tensor-parallel-size 0 --prompt Hello");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--tensor-parallel-size"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tern
