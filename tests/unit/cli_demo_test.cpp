// The built-in demo model: `tern generate --chat` with no --model uses models/tern-demo and
// answers held-out arithmetic questions (numbers it never trained on), in English and
// Chinese, exactly; the prompt ids equal transformers' apply_chat_template + tokenizer.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_support.h"

namespace tern {
namespace {

namespace fs = std::filesystem;

TEST(DemoModel, AnswersHeldOutArithmeticThroughTheDefaultModel) {
  const fs::path questions_path = fs::path(TERN_SOURCE_DIR) / "models/tern-demo/eval_questions.json";
  nlohmann::json questions = nlohmann::json::parse(std::ifstream(questions_path))["questions"];
  ASSERT_GE(questions.size(), 12u);
  nlohmann::json prompts = nlohmann::json::array();
  for (const auto& q : questions) prompts.push_back(q["question"]);
  testing::TempDir dir;
  const std::string file = dir.write("prompts.json", prompts.dump());
  auto r = testing::run_tern("generate --quiet --chat --prompts-file '" + file + "' --max-tokens 32 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  size_t i = 0, correct = 0;
  for (std::string line; std::getline(lines, line); ++i) {
    ASSERT_LT(i, questions.size());
    nlohmann::json out = nlohmann::json::parse(line);
    const auto& q = questions[i];
    EXPECT_EQ(out["prompt_ids"], q["prompt_ids"]) << q["question"];
    EXPECT_EQ(out["finish_reason"], "stop") << q["question"];
    if (out["text"] == q["answer"]) ++correct;
    else ADD_FAILURE() << q["question"] << " -> " << out["text"] << ", expected " << q["answer"];
  }
  EXPECT_EQ(i, questions.size());
  EXPECT_EQ(correct, questions.size());
}

TEST(DemoModel, AddsWhatIs123Plus456) {
  auto r = testing::run_tern("generate --quiet --chat --prompt 'What is 123 + 456?' --max-tokens 32");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("579"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace tern
