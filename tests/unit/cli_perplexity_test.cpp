// `tern perplexity` end to end: a text file scored by the binary equals the log-softmax
// of transformers' logits for the same text (tiny models, tests/data/golden); bad input
// fails with a message. The demo model's perplexity test is in cli_demo_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_support.h"
#include "model/safetensors.h"

namespace tern {
namespace {

namespace fs = std::filesystem;
const fs::path kData = TERN_TEST_DATA;

nlohmann::json perplexity_json(const std::string& args) {
  const testing::CliResult r = testing::run_tern("perplexity --quiet --json " + args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

class CliPerplexityGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(CliPerplexityGolden, TextFileMatchesTheLogSoftmaxOfTransformersLogits) {
  const nlohmann::json golden = nlohmann::json::parse(std::ifstream(kData / "golden" / (GetParam() + ".json")));
  const Tensor logits =
      SafetensorsFile::open((kData / "golden" / (GetParam() + ".logits.safetensors")).string()).tensor("prompt_1");
  const std::vector<int32_t> ids = golden["cases"][1]["prompt_ids"];  // tokenizer(text), BOS included where added
  const int64_t vocab = logits.dim(1);
  double nll = 0;
  for (size_t i = 1; i < ids.size(); ++i) {
    const float* row = logits.ptr<const float>() + (i - 1) * vocab;
    double z = 0;
    for (int64_t v = 0; v < vocab; ++v) z += std::exp(double(row[v]));
    nll += std::log(z) - double(row[ids[i]]);
  }
  const double mean = nll / double(ids.size() - 1);

  testing::TempDir dir;
  const std::string text = dir.write("text.txt", golden["cases"][1]["text"].get<std::string>());
  const nlohmann::json j =
      perplexity_json("--model '" + (kData / "models" / GetParam()).string() + "' --text '" + text + "'");
  EXPECT_EQ(j["documents"], 1);
  EXPECT_EQ(j["tokens"], ids.size() - 1);
  EXPECT_NEAR(j["nll"].get<double>(), mean, 1e-3 * mean);
  EXPECT_NEAR(j["perplexity"].get<double>(), std::exp(mean), 1e-3 * std::exp(mean));
  EXPECT_EQ(j["backend"], "cpu");
  EXPECT_EQ(j["context"], 512);  // the tiny models' max_position_embeddings, under the 1024 default
  EXPECT_EQ(j["stride"], 256);
}

INSTANTIATE_TEST_SUITE_P(TinyModels, CliPerplexityGolden, ::testing::Values("tiny-qwen2", "tiny-llama3"));

TEST(CliPerplexity, BadInputFailsWithAMessage) {
  testing::TempDir dir;
  const std::string model = "--model '" + (kData / "models" / "tiny-qwen2").string() + "' ";
  auto fails_with = [&](const std::string& args, const std::string& message) {
    const testing::CliResult r = testing::run_tern("perplexity --quiet " + model + args);
    EXPECT_EQ(r.exit_code, 1) << args;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << ": " << r.err;
  };
  const std::string text = dir.write("text.txt", "Hello there, general perplexity.");
  fails_with("", "give exactly one of --text FILE and --jsonl FILE");
  fails_with("--text '" + text + "' --jsonl '" + text + "'", "give exactly one of");
  fails_with("--text '" + dir.file("missing.txt") + "'", "cannot open the text");
  fails_with("--text '" + dir.write("empty.txt", "") + "'", "the text is empty");
  fails_with("--text '" + text + "' --context 1024", "--context 1024 exceeds the model's max_position_embeddings 512");
  fails_with("--text '" + text + "' --context 8 --stride 9", "stride 9 must be between 1 and the context 8");
  const std::string bad_line = dir.write("bad.jsonl", "{\"text\": \"fine\"}\n\n[1, 2]\n");
  fails_with("--jsonl '" + bad_line + "'", "bad.jsonl:3: not a JSON object");
  const std::string mixed = dir.write("mixed.jsonl", "{\"text\": \"a\", \"prompt\": \"b\", \"completion\": \"c\"}\n");
  fails_with("--jsonl '" + mixed + "'", "mixed.jsonl:1: expected either \"text\" or \"prompt\" and \"completion\"");
  const std::string no_completion = dir.write("half.jsonl", "{\"prompt\": \"b\"}\n");
  fails_with("--jsonl '" + no_completion + "'", "half.jsonl:1: \"completion\" must be a string");
  fails_with("--jsonl '" + dir.write("blank.jsonl", "\n  \n") + "'", "no documents");
  fails_with("--text '" + dir.write("one.txt", "a") + "'", "nothing to score");
}

}  // namespace
}  // namespace tern
