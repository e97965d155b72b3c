// Models from the Hugging Face cache, offline: `tern serve Qwen/Qwen2.5-7B-Instruct` finds
// the snapshot that `huggingface-cli download Qwen/Qwen2.5-7B-Instruct` left in the hub
// cache (models--Qwen--Qwen2.5-7B-Instruct/refs/<revision> holds the commit hash,
// snapshots/<hash>/ the files, as symbolic links into blobs/). tern never downloads: a
// model that is not there is an error naming the paths searched and the command that
// fetches it.
#pragma once

#include <string>

namespace tern::app {

// The revision of a repo id when none is given, as huggingface_hub's default.
inline const std::string kDefaultRevision = "main";

// The environment variables that place the hub cache, as huggingface_hub reads them.
struct HubCacheEnv {
  std::string hf_hub_cache;    // HF_HUB_CACHE: the hub cache itself
  std::string hf_home;         // HF_HOME: the cache is HF_HOME/hub
  std::string xdg_cache_home;  // XDG_CACHE_HOME: HF_HOME defaults to XDG_CACHE_HOME/huggingface
  std::string home;            // HOME: else ~/.cache/huggingface/hub

  static HubCacheEnv from_environment();
};

// The hub cache folder: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub,
// else HOME/.cache/huggingface/hub (unset and empty variables are skipped). Also says
// which variable chose it, for error messages.
struct HubCacheDir {
  std::string path;
  std::string source;  // "HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME" or "HOME"
};
HubCacheDir hub_cache_dir(const HubCacheEnv& env);

// True for what Hugging Face accepts as a repository id: "name" or "owner/name", each of
// letters, digits, '-', '_' and '.', not starting or ending with '-' or '.', no "--" or "..".
bool is_hub_repo_id(const std::string& text);

struct ResolvedModel {
  std::string dir;   // the folder to load
  std::string name;  // the default served model id: the folder's name, or the repo id
};

// `model` as given on the command line: an existing path is used as it is (a local folder
// wins over a repo id of the same spelling); a repo id is looked up in the hub cache at
// `revision` (a branch or tag through refs/<revision>, or a 40-digit commit hash straight
// in snapshots/). Anything else is returned unchanged, for the loaders to report. Throws
// tern::Error when a repo id or its revision is not in the cache, naming what was searched
// and the `huggingface-cli download` command that fetches it.
ResolvedModel resolve_model(const std::string& model, const std::string& revision, const HubCacheEnv& env);

}  // namespace tern::app
