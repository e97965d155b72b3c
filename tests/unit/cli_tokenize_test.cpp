// `tern tokenize` / `tern detokenize` end to end, on the binary the build made.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_support.h"
#include "tokenizer_fixture.h"

namespace tern {
namespace {

using Result = testing::CliResult;

class CliTokenizeTest : public ::testing::Test {
 protected:
  Result run(const std::string& args) const { return testing::run_tern(args); }

  std::string write_json(const std::string& name, const nlohmann::json& value) const {
    dir_.write(name, value.dump());
    return dir_.path() + "/" + name;
  }

  testing::TempDir dir_;
  const std::string qwen_ = "'" + testing::qwen_dir() + "'";
};

TEST_F(CliTokenizeTest, TokenizeText) {
  const Result r = run("tokenize --model " + qwen_ + " --text 'Hello world'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json({9707, 1879}));
}

TEST_F(CliTokenizeTest, TokenizeJsonInputAndNoSpecial) {
  const std::string input = write_json("in.json", {"Hello world", "<|im_start|>", ""});
  const Result r = run("tokenize --model " + qwen_ + " --input-json '" + input + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::parse("[[9707,1879],[151644],[]]"));

  const std::string llama = "'" + std::string(TERN_TEST_DATA) + "/tokenizers/tiny-llama3'";
  const Result with_bos = run("tokenize --model " + llama + " --text ''");
  const Result without_bos = run("tokenize --model " + llama + " --text '' --no-special");
  EXPECT_EQ(nlohmann::json::parse(with_bos.out).size(), 1u) << with_bos.err;
  EXPECT_EQ(nlohmann::json::parse(without_bos.out), nlohmann::json::array()) << without_bos.err;
}

TEST_F(CliTokenizeTest, Detokenize) {
  const std::string input = write_json("ids.json", nlohmann::json::parse("[[9707,1879],[151644,9707,151645],[]]"));
  const Result kept = run("detokenize --model " + qwen_ + " --input-json '" + input + "'");
  EXPECT_EQ(kept.exit_code, 0) << kept.err;
  EXPECT_EQ(nlohmann::json::parse(kept.out), nlohmann::json({"Hello world", "<|im_start|>Hello<|im_end|>", ""}));
  const Result skipped = run("detokenize --model " + qwen_ + " --input-json '" + input + "' --skip-special-tokens");
  EXPECT_EQ(nlohmann::json::parse(skipped.out), nlohmann::json({"Hello world", "Hello", ""}));
}

TEST_F(CliTokenizeTest, ErrorsAreOneLineAndExitOne) {
  const std::string bad_json = dir_.path() + "/bad.json";
  dir_.write("bad.json", "[\"unterminated");
  const std::string not_ids = write_json("not_ids.json", nlohmann::json::parse("[[1, \"x\"]]"));
  for (const std::string& args : {
           "tokenize --model '" + dir_.path() + "/missing' --text hi",
           "tokenize --model " + qwen_ + " --input-json '" + bad_json + "'",
           "tokenize --model " + qwen_,
           "detokenize --model " + qwen_ + " --input-json '" + not_ids + "'",
       }) {
    const Result r = run(args);
    EXPECT_EQ(r.exit_code, 1) << args;
    EXPECT_TRUE(r.err.starts_with("tern: error: ")) << args << " -> " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "") << args;
  }
}

}  // namespace
}  // namespace tern
