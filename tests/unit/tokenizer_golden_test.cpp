// Golden files from Hugging Face `tokenizers` (tools/make_tokenizer_fixtures.py):
// tests/data/tokenizer/golden_<name>.json holds, for the tokenizer folder it names,
// encode results with and without special tokens and decode results with and without
// skip_special_tokens, plus decode-only cases of random ids. Every case must match.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tokenizer/incremental_detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace tern {
namespace {

using Ids = std::vector<int32_t>;

std::vector<std::filesystem::path> golden_files() {
  std::vector<std::filesystem::path> files;
  const std::filesystem::path dir = std::filesystem::path(TERN_TEST_DATA) / "tokenizer";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("golden_") && name.ends_with(".json")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string streamed(const std::shared_ptr<const Tokenizer>& tokenizer, const Ids& ids, bool skip_special) {
  IncrementalDetokenizer detokenizer(tokenizer, skip_special);
  std::string text;
  for (int32_t id : ids) text += detokenizer.push(id);
  return text + detokenizer.flush();
}

TEST(TokenizerGolden, MatchesHuggingFace) {
  const std::vector<std::filesystem::path> files = golden_files();
  if (files.empty()) GTEST_SKIP() << "no golden files yet: run tools/make_tokenizer_fixtures.py --out tests/data";
  for (const std::filesystem::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    const nlohmann::json golden = nlohmann::json::parse(std::ifstream(file));
    const auto tokenizer = Tokenizer::load(std::string(TERN_TEST_DATA) + "/" + golden["tokenizer"].get<std::string>());
    for (const nlohmann::json& c : golden["cases"]) {
      const std::string text = c["text"];
      const Ids ids = c["ids"];
      const std::string shown = nlohmann::json(text).dump();
      EXPECT_EQ(tokenizer->encode(text), ids) << shown;
      EXPECT_EQ(tokenizer->encode(text, /*add_special_tokens=*/false), c["ids_no_special"].get<Ids>()) << shown;
      EXPECT_EQ(tokenizer->decode(ids, false), c["decoded"].get<std::string>()) << shown;
      EXPECT_EQ(tokenizer->decode(ids, true), c["decoded_skip_special"].get<std::string>()) << shown;
      EXPECT_EQ(streamed(tokenizer, ids, false), c["decoded"].get<std::string>()) << shown;
      const int failed_checks = ::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count();
      ASSERT_LT(failed_checks, 20) << "stopping after 20 failed checks";
    }
    for (const nlohmann::json& c : golden["decode_cases"]) {
      const Ids ids = c["ids"];
      const std::string shown = nlohmann::json(ids).dump();
      EXPECT_EQ(tokenizer->decode(ids, false), c["decoded"].get<std::string>()) << shown;
      EXPECT_EQ(tokenizer->decode(ids, true), c["decoded_skip_special"].get<std::string>()) << shown;
      EXPECT_EQ(streamed(tokenizer, ids, true), c["decoded_skip_special"].get<std::string>()) << shown;
    }
  }
}

TEST(TokenizerGolden, TinyLlama3ReadsItsConfigAndAddsBos) {
  const auto tokenizer = Tokenizer::load(std::string(TERN_TEST_DATA) + "/tokenizers/tiny-llama3");
  const std::optional<int32_t> bos = tokenizer->token_to_id("<|begin_of_text|>");
  ASSERT_TRUE(bos.has_value());
  EXPECT_EQ(tokenizer->bos_token_id(), bos);
  EXPECT_EQ(tokenizer->eos_token_id(), tokenizer->token_to_id("<|eot_id|>"));
  EXPECT_EQ(tokenizer->encode("").size(), 1u);
  EXPECT_EQ(tokenizer->encode("hi").front(), *bos);
  EXPECT_NE(tokenizer->encode("hi", /*add_special_tokens=*/false).front(), *bos);
  EXPECT_NE(tokenizer->chat_template().find("<|start_header_id|>"), std::string::npos) << "from chat_template.jinja";
}

}  // namespace
}  // namespace tern
