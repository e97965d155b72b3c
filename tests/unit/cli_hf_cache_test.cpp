// `tern generate --model <repo id>` through a Hugging Face hub cache the test makes from
// tests/data/models/tiny-qwen2 (files in blobs/, symbolic links in snapshots/<hash>/,
// refs/main): the same tokens as the folder itself; a repo id that is not cached is a
// one-line error with the download command, exit code 1.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_support.h"

namespace tern {
namespace {

using testing::run_tern;
using testing::TempDir;
namespace fs = std::filesystem;
const fs::path kTiny = fs::path(TERN_TEST_DATA) / "models/tiny-qwen2";
const std::string kHash = "4f1c0e7d9b2a3c5e6f708192a3b4c5d6e7f80912";

// A hub cache holding tiny-qwen2 as the repo "tern-tests/tiny-qwen2" at refs/main.
void make_cache(const fs::path& hub) {
  const fs::path repo = hub / "models--tern-tests--tiny-qwen2";
  fs::create_directories(repo / "blobs");
  fs::create_directories(repo / "snapshots" / kHash);
  fs::create_directories(repo / "refs");
  int n = 0;
  for (const auto& entry : fs::directory_iterator(kTiny)) {
    const std::string blob = "blob" + std::to_string(n++);
    fs::copy_file(entry.path(), repo / "blobs" / blob);
    fs::create_symlink(fs::path("../../blobs") / blob, repo / "snapshots" / kHash / entry.path().filename());
  }
  std::ofstream(repo / "refs" / "main") << kHash;
}

class CliHubCache : public ::testing::Test {
 protected:
  void SetUp() override {
    make_cache(hub_.path());
    setenv("HF_HUB_CACHE", hub_.path().c_str(), 1);  // the tern child inherits it
  }
  void TearDown() override { unsetenv("HF_HUB_CACHE"); }
  TempDir hub_;
};

TEST_F(CliHubCache, GenerateFromARepoIdMatchesTheFolder) {
  const std::string args = " --prompt Hello --max-tokens 8 --ignore-eos --json --quiet";
  const auto cached = run_tern("generate --model tern-tests/tiny-qwen2" + args);
  ASSERT_EQ(cached.exit_code, 0) << cached.err;
  const auto folder = run_tern("generate --model '" + kTiny.string() + "'" + args);
  ASSERT_EQ(folder.exit_code, 0) << folder.err;
  EXPECT_EQ(nlohmann::json::parse(cached.out)["token_ids"], nlohmann::json::parse(folder.out)["token_ids"]);
  const auto pinned = run_tern("generate --model tern-tests/tiny-qwen2 --revision " + kHash + args);
  ASSERT_EQ(pinned.exit_code, 0) << pinned.err;
}

TEST_F(CliHubCache, AModelNotInTheCacheIsAnErrorWithTheDownloadCommand) {
  const auto r = run_tern("generate --model tern-tests/missing --prompt Hello --quiet");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(hub_.path() + "/models--tern-tests--missing (no such folder"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("huggingface-cli download tern-tests/missing"), std::string::npos) << r.err;
  const auto tokenize = run_tern("tokenize --model tern-tests/tiny-qwen2 --revision v9 --text Hi");
  EXPECT_EQ(tokenize.exit_code, 1);
  EXPECT_NE(tokenize.err.find("revision \"v9\" is not in the Hugging Face cache"), std::string::npos) << tokenize.err;
}

}  // namespace
}  // namespace tern
