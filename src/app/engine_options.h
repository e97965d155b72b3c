// The options every model-serving command shares (generate, serve, bench): where the
// model is, which backend, and how the engine is sized. add_engine_options() registers
// them on a subcommand; open_engine() loads everything and returns a ready engine.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "app/hf_cache.h"
#include "engine/engine.h"
#include "model/llama_model.h"
#include "tokenizer/tokenizer.h"

namespace tern::app {

struct EngineOptions {
  std::string model;              // model folder or Hugging Face repo id; empty: the built-in demo model
  std::string revision = kDefaultRevision;  // of a repo id in the Hugging Face cache
  std::string backend = "auto";   // auto | cpu | cuda
  int tensor_parallel_size = 1;   // ranks the model is split over (GPUs on CUDA)
  // The flags' sizes; max_num_batched_tokens and max_num_seqs stay 0 unless given, for
  // the backend's defaults (EngineSizes, or EngineSizes::cpu_defaults() on the CPU).
  EngineSizes sizes{.max_num_batched_tokens = 0, .max_num_seqs = 0};
  double kv_cache_memory_gib = 0.0;  // CPU: bytes for the KV cache (0: 2 GiB or what max_model_len needs)
  double gpu_memory_utilization = 0.90;
  int32_t max_waiting = 1024;
  bool no_prefix_caching = false;
  std::string scheduler = "continuous";  // continuous | static
  std::string kv_layout = "paged";       // paged | contiguous
  // CUDA graphs are opt-in (--cuda-graphs) until their replays give the eager forward's
  // outputs again: docs/performance.md, "CUDA graph replays".
  bool enforce_eager = true;
  // Speculative decoding: "none", "ngram" or "draft" (with speculative_model, a folder or
  // repo id like --model); the engine's SpeculativeConfig otherwise.
  std::string speculative_method = "none";
  std::string speculative_model;
  SpeculativeConfig speculative;
  std::string quantization;             // "" or "fp8": quantise a dense checkpoint as it loads
  std::string kv_cache_dtype = "auto";  // auto (the activation dtype) | fp8
  bool calculate_kv_scales = false;     // fp8 KV: measure the scales at start-up (model/kv_scale_calibration.h)
  double target_itl_ms = 0;             // EngineConfig::target_itl_ms
  int threads = 0;     // CPU worker threads; 0: TERN_NUM_THREADS, else all cores
  bool quiet = false;  // no progress output
};

void add_engine_options(CLI::App& cmd, EngineOptions& options);

// Registers --model (a folder, or a Hugging Face repo id found in the local hub cache) and
// --revision on a command; `what` says what the folder must hold. Every command that takes
// a model uses it, and resolve_model_option() to find the folder.
CLI::Option* add_model_options(CLI::App& cmd, std::string& model, std::string& revision, const std::string& what);

// The folder and default served name for --model / --revision (app/hf_cache.h), with the
// process's environment; an empty model is the built-in demo model. Throws tern::Error.
ResolvedModel resolve_model_option(const std::string& model, const std::string& revision);

// The command-line flags that give a child `tern serve` these options (the benchmarks
// start servers); options left at their defaults are left out.
std::vector<std::string> engine_option_flags(const EngineOptions& options);

struct LoadedEngine {
  std::shared_ptr<const Tokenizer> tokenizer;
  std::unique_ptr<Engine> engine;
  std::string model_dir;
  std::string model_name;     // the folder's name, or the repo id it was found by
  std::string weight_format;  // "bf16" (dense; F32 on the CPU backend) or "gptq-int4" / "awq-int4" / "fp8"
  size_t weights_device_bytes = 0;
};

// Loads tokenizer and model, sizes the KV cache and builds the engine (not started).
// Prints progress and the memory plan to stderr unless quiet. Throws tern::Error.
LoadedEngine open_engine(const EngineOptions& options);

// Registers --threads (CPU worker threads) on a command that runs a model.
void add_threads_option(CLI::App& cmd, int& threads);

// Registers --kv-cache-dtype (auto | fp8) and --calculate-kv-scales on a command that runs a
// model, and applies them to a loaded model before its KV cache is planned (calibrating on
// the built-in sample text of model_dir's tokenizer; logging where the FP8 scales come from
// unless quiet). Throws tern::Error when the backend has no FP8 KV cache.
struct KvCacheOptions {
  std::string dtype = "auto";
  bool calculate_scales = false;
};
void add_kv_cache_options(CLI::App& cmd, std::string& dtype, bool& calculate_scales);
void apply_kv_cache_options(LlamaModel& model, const KvCacheOptions& options, const std::string& model_dir,
                            bool quiet);

// The backend named "cpu", "cuda", or "auto" (cuda when a GPU is usable, else cpu);
// threads: CPU worker threads (0: TERN_NUM_THREADS, else all cores). Throws tern::Error.
std::unique_ptr<Backend> open_backend(const std::string& name, int threads);

// The backend as the startup log names it: "cuda", or "cpu (N worker threads)".
std::string describe_backend(const Backend& backend);

// Loads the model in model_dir onto `backend`, showing progress on stderr unless quiet.
std::unique_ptr<LlamaModel> load_model_with_progress(const std::string& model_dir, Backend& backend, bool quiet);

// The folder of the built-in demo model: models/tern-demo next to the binary's source
// tree or install prefix. Throws if it cannot be found.
std::string default_model_dir();

}  // namespace tern::app
