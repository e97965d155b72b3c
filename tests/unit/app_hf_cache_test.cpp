// Models from the Hugging Face hub cache (app/hf_cache.h), on a cache layout each test
// builds the way `huggingface-cli download` leaves it: refs/<branch> holds a commit hash,
// snapshots/<hash>/ holds symbolic links into blobs/. Offline: what is not there is an
// error naming the paths searched and the download command.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "app/hf_cache.h"
#include "test_support.h"

namespace tern::app {
namespace {

namespace fs = std::filesystem;
using testing::error_of;
using testing::TempDir;

const std::string kMain = "0123456789abcdef0123456789abcdef01234567";
const std::string kOther = "89abcdef0123456789abcdef0123456789abcdef";

// Adds snapshot `hash` of `repo_folder` (models--owner--name) under `hub`, its config.json a
// link into blobs/, and points refs/<ref> at it when ref is not empty.
fs::path add_snapshot(const fs::path& hub, const std::string& repo_folder, const std::string& hash,
                      const std::string& ref) {
  const fs::path repo = hub / repo_folder;
  fs::create_directories(repo / "blobs");
  fs::create_directories(repo / "snapshots" / hash);
  std::ofstream(repo / "blobs" / ("blob-" + hash)) << R"({"model_type": "qwen2"})";
  fs::create_symlink(fs::path("../../blobs") / ("blob-" + hash), repo / "snapshots" / hash / "config.json");
  if (!ref.empty()) {
    fs::create_directories((repo / "refs" / ref).parent_path());
    std::ofstream(repo / "refs" / ref) << hash;  // huggingface_hub writes it without a newline
  }
  return repo / "snapshots" / hash;
}

TEST(HubCacheDir, HfHubCacheWinsOverHfHomeWhichWinsOverXdgAndHome) {
  HubCacheEnv env{.hf_hub_cache = "/c/hub", .hf_home = "/h", .xdg_cache_home = "/x", .home = "/var/lib/tern"};
  EXPECT_EQ(hub_cache_dir(env).path, "/c/hub");
  EXPECT_EQ(hub_cache_dir(env).source, "HF_HUB_CACHE");
  env.hf_hub_cache.clear();
  EXPECT_EQ(hub_cache_dir(env).path, "/h/hub");
  env.hf_home.clear();
  EXPECT_EQ(hub_cache_dir(env).path, "/x/huggingface/hub");
  env.xdg_cache_home.clear();
  EXPECT_EQ(hub_cache_dir(env).path, "/var/lib/tern/.cache/huggingface/hub");
  EXPECT_EQ(hub_cache_dir(env).source, "HOME");
}

TEST(HubRepoId, OwnerSlashNameOrANameAlone) {
  EXPECT_TRUE(is_hub_repo_id("Qwen/Qwen2.5-7B-Instruct"));
  EXPECT_TRUE(is_hub_repo_id("gpt2"));
  EXPECT_TRUE(is_hub_repo_id("meta-llama/Llama-3.1-8B_v2"));
  EXPECT_FALSE(is_hub_repo_id("/models/Qwen"));
  EXPECT_FALSE(is_hub_repo_id("./Qwen"));
  EXPECT_FALSE(is_hub_repo_id("a/b/c"));
  EXPECT_FALSE(is_hub_repo_id("../x"));
  EXPECT_FALSE(is_hub_repo_id("a--b/c"));
  EXPECT_FALSE(is_hub_repo_id(""));
}

TEST(ResolveModel, ARepoIdIsTheSnapshotRefsMainPointsAtReadThroughItsLinks) {
  TempDir hub;
  const fs::path snapshot = add_snapshot(hub.path(), "models--Qwen--Tiny", kMain, "main");
  const ResolvedModel m = resolve_model("Qwen/Tiny", "main", {.hf_hub_cache = hub.path()});
  EXPECT_EQ(m.dir, snapshot.string());
  EXPECT_EQ(m.name, "Qwen/Tiny") << "the repo id is the default served name, not the hash";
  std::ifstream config(fs::path(m.dir) / "config.json");
  std::string text((std::istreambuf_iterator<char>(config)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, R"({"model_type": "qwen2"})");
}

TEST(ResolveModel, HfHubCacheIsSearchedBeforeHfHome) {
  TempDir hub, home;
  add_snapshot(hub.path(), "models--Qwen--Tiny", kMain, "main");
  add_snapshot(fs::path(home.path()) / "hub", "models--Qwen--Tiny", kOther, "main");
  EXPECT_EQ(
      fs::path(resolve_model("Qwen/Tiny", "main", {.hf_hub_cache = hub.path(), .hf_home = home.path()}).dir).filename(),
      kMain);
  EXPECT_EQ(fs::path(resolve_model("Qwen/Tiny", "main", {.hf_home = home.path()}).dir).filename(), kOther);
}

TEST(ResolveModel, ABranchOrTagGoesThroughRefsACommitHashStraightToSnapshots) {
  TempDir hub;
  add_snapshot(hub.path(), "models--Qwen--Tiny", kMain, "main");
  add_snapshot(hub.path(), "models--Qwen--Tiny", kOther, "v1.0");
  const HubCacheEnv env{.hf_hub_cache = hub.path()};
  EXPECT_EQ(fs::path(resolve_model("Qwen/Tiny", "v1.0", env).dir).filename(), kOther);
  EXPECT_EQ(fs::path(resolve_model("Qwen/Tiny", kOther, env).dir).filename(), kOther);
  EXPECT_EQ(fs::path(resolve_model("Qwen/Tiny", kMain, env).dir).filename(), kMain);
}

TEST(ResolveModel, AnExistingLocalFolderWinsOverTheCache) {
  TempDir hub, cwd_model;
  add_snapshot(hub.path(), "models--Tiny", kMain, "main");
  const ResolvedModel local = resolve_model(cwd_model.path(), "main", {.hf_hub_cache = hub.path()});
  EXPECT_EQ(local.dir, cwd_model.path());
  EXPECT_EQ(local.name, fs::path(cwd_model.path()).filename().string());
  EXPECT_EQ(resolve_model(cwd_model.path() + "/", "main", {}).name, fs::path(cwd_model.path()).filename().string());
  EXPECT_EQ(resolve_model("/no/such/folder", "main", {}).dir, "/no/such/folder") << "not a repo id: the loader reports";
}

TEST(ResolveModel, AMissingModelNamesThePathsSearchedAndTheDownloadCommand) {
  TempDir hub;
  const std::string message =
      error_of([&] { resolve_model("Qwen/Qwen2.5-7B-Instruct", "main", {.hf_hub_cache = hub.path()}); });
  EXPECT_NE(message.find((fs::path(hub.path()) / "models--Qwen--Qwen2.5-7B-Instruct").string()), std::string::npos)
      << message;
  EXPECT_NE(message.find("Qwen/Qwen2.5-7B-Instruct (no such folder)"), std::string::npos) << message;
  EXPECT_NE(message.find("from HF_HUB_CACHE"), std::string::npos) << message;
  EXPECT_NE(message.find("`huggingface-cli download Qwen/Qwen2.5-7B-Instruct`"), std::string::npos) << message;
}

TEST(ResolveModel, AMissingRevisionListsTheCachedRefs) {
  TempDir hub;
  add_snapshot(hub.path(), "models--Qwen--Tiny", kMain, "main");
  const HubCacheEnv env{.hf_hub_cache = hub.path()};
  std::string message = error_of([&] { resolve_model("Qwen/Tiny", "v2", env); });
  EXPECT_NE(message.find("revision \"v2\" is not in the Hugging Face cache"), std::string::npos) << message;
  EXPECT_NE(message.find("cached refs: main"), std::string::npos) << message;
  EXPECT_NE(message.find("`huggingface-cli download Qwen/Tiny --revision v2`"), std::string::npos) << message;
  message = error_of([&] { resolve_model("Qwen/Tiny", kOther, env); });
  EXPECT_NE(message.find("has no snapshot"), std::string::npos) << message;
}

TEST(ResolveModel, ARevisionThatWouldLeaveRefsIsRefused) {
  TempDir hub;
  add_snapshot(hub.path(), "models--Qwen--Tiny", kMain, "main");
  const HubCacheEnv env{.hf_hub_cache = hub.path()};
  for (const std::string bad : {"../../../etc/passwd", "", "/main", "a//b", "main/"})
    EXPECT_NE(error_of([&] { resolve_model("Qwen/Tiny", bad, env); }).find("not a branch, tag or commit hash"),
              std::string::npos)
        << bad;
}

TEST(ResolveModel, ARefThatIsNotACommitHashOrASnapshotWithoutConfigIsAnError) {
  TempDir hub;
  add_snapshot(hub.path(), "models--Qwen--Tiny", kMain, "main");
  std::ofstream(fs::path(hub.path()) / "models--Qwen--Tiny" / "refs" / "broken") << "not-a-hash\n";
  const HubCacheEnv env{.hf_hub_cache = hub.path()};
  EXPECT_NE(error_of([&] { resolve_model("Qwen/Tiny", "broken", env); }).find("expected a 40-digit commit hash"),
            std::string::npos);
  fs::remove(fs::path(hub.path()) / "models--Qwen--Tiny" / "blobs" / ("blob-" + kMain));  // a dangling link
  EXPECT_NE(error_of([&] { resolve_model("Qwen/Tiny", "main", env); }).find("no config.json"), std::string::npos);
}

}  // namespace
}  // namespace tern::app
