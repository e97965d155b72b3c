#include "app/hf_cache.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "base/error.h"

namespace tern::app {
namespace fs = std::filesystem;
namespace {

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

bool is_commit_hash(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool is_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

bool is_id_part(const std::string& part) {
  if (part.empty() || part.size() > 96) return false;
  for (char c : part)
    if (!is_id_char(c)) return false;
  if (part.front() == '-' || part.front() == '.' || part.back() == '-' || part.back() == '.') return false;
  return part.find("--") == std::string::npos && part.find("..") == std::string::npos;
}

// A branch or tag name that stays inside refs/: no empty, "." or ".." components.
bool is_safe_revision(const std::string& revision) {
  if (revision.empty() || revision.front() == '/' || revision.back() == '/') return false;
  size_t start = 0;
  while (start <= revision.size()) {
    size_t end = revision.find('/', start);
    if (end == std::string::npos) end = revision.size();
    const std::string part = revision.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part)
      if (c == '\\' || static_cast<unsigned char>(c) < 0x20) return false;
    start = end + 1;
  }
  return true;
}

std::string download_command(const std::string& repo_id, const std::string& revision) {
  std::string command = "huggingface-cli download " + repo_id;
  if (revision != "main") command += " --revision " + revision;
  return command;
}

// "main, v1.0" for the refs the cache holds, for a revision that is not among them.
std::string cached_refs(const fs::path& refs) {
  std::string out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(refs, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    if (!out.empty()) out += ", ";
    out += it->path().lexically_relative(refs).string();
  }
  return out.empty() ? "none" : out;
}

std::string folder_name(const std::string& dir) {
  const fs::path p = fs::path(dir).lexically_normal();
  const std::string name = p.filename().string();
  return name.empty() ? p.parent_path().filename().string() : name;
}

}  // namespace

HubCacheEnv HubCacheEnv::from_environment() {
  return {.hf_hub_cache = env_or_empty("HF_HUB_CACHE"),
          .hf_home = env_or_empty("HF_HOME"),
          .xdg_cache_home = env_or_empty("XDG_CACHE_HOME"),
          .home = env_or_empty("HOME")};
}

HubCacheDir hub_cache_dir(const HubCacheEnv& env) {
  if (!env.hf_hub_cache.empty()) return {env.hf_hub_cache, "HF_HUB_CACHE"};
  if (!env.hf_home.empty()) return {(fs::path(env.hf_home) / "hub").string(), "HF_HOME"};
  if (!env.xdg_cache_home.empty())
    return {(fs::path(env.xdg_cache_home) / "huggingface" / "hub").string(), "XDG_CACHE_HOME"};
  return {(fs::path(env.home.empty() ? "/" : env.home) / ".cache" / "huggingface" / "hub").string(), "HOME"};
}

bool is_hub_repo_id(const std::string& text) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos) return is_id_part(text);
  return is_id_part(text.substr(0, slash)) && is_id_part(text.substr(slash + 1));
}

ResolvedModel resolve_model(const std::string& model, const std::string& revision, const HubCacheEnv& env) {
  std::error_code ec;
  if (fs::exists(model, ec) || !is_hub_repo_id(model)) return {model, folder_name(model)};
  if (!is_safe_revision(revision))
    throw error("--revision \"", revision,
                "\": not a branch, tag or commit hash (empty, or with an empty, '.' or '..' ",
                "part, a backslash or a control character)");

  const HubCacheDir cache = hub_cache_dir(env);
  std::string repo_folder = "models--" + model;
  if (const size_t slash = repo_folder.find('/'); slash != std::string::npos) repo_folder.replace(slash, 1, "--");
  const fs::path repo = fs::path(cache.path) / repo_folder;
  const std::string fetch = download_command(model, revision);
  if (!fs::is_directory(repo, ec)) {
    throw error(
        "model \"", model, "\" is neither a local folder nor in the Hugging Face cache; searched ",
        fs::absolute(model, ec).string(), " (no such folder) and ", repo.string(),
        " (no such folder; the hub cache is ", cache.path, ", from ", cache.source,
        ": HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub). tern does not download models: run `", fetch,
        "` first");
  }

  std::string hash = revision;
  if (!is_commit_hash(revision)) {
    const fs::path ref = repo / "refs" / revision;
    std::ifstream in(ref);
    if (!in || !fs::is_regular_file(ref, ec)) {
      throw error("model \"", model, "\": revision \"", revision, "\" is not in the Hugging Face cache (no file ",
                  ref.string(), "; cached refs: ", cached_refs(repo / "refs"), "). Run `", fetch, "` first");
    }
    std::getline(in, hash);
    while (!hash.empty() && (hash.back() == '\n' || hash.back() == '\r' || hash.back() == ' ')) hash.pop_back();
    if (!is_commit_hash(hash))
      throw error(ref.string(), ": expected a 40-digit commit hash, found \"", hash.substr(0, 64), "\"");
  }
  const fs::path snapshot = repo / "snapshots" / hash;
  if (!fs::is_directory(snapshot, ec)) {
    throw error("model \"", model, "\": revision \"", revision,
                "\" has no snapshot in the Hugging Face cache (no folder ", snapshot.string(), "). Run `", fetch,
                "` first");
  }
  if (!fs::exists(snapshot / "config.json", ec)) {
    throw error("model \"", model, "\": the cached snapshot ", snapshot.string(),
                " has no config.json (an incomplete download?). Run `", fetch, "` to complete it");
  }
  return {snapshot.string(), model};
}

}  // namespace tern::app
