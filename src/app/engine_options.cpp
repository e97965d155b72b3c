#include "app/engine_options.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <type_traits>

#include "app/generation_config.h"
#include "app/model_ranks.h"
#include "backend/backend.h"
#include "base/error.h"
#include "base/log.h"
#include "base/thread_pool.h"
#include "model/kv_scale_calibration.h"
#include "model/load_model.h"
#include "quantize/calibration_text.h"
#include "runner/kv_memory_plan.h"
#include "runner/model_runner.h"

namespace tern::app {
namespace fs = std::filesystem;

void add_engine_options(CLI::App& cmd, EngineOptions& o) {
  add_model_options(cmd, o.model, o.revision,
                    "a Hugging Face model folder (config.json, *.safetensors, tokenizer.json)");
  cmd.add_option("--backend", o.backend, "cpu, cuda, or auto (cuda when a GPU is usable)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  cmd.add_option("--quantization", o.quantization,
                 "fp8: quantise a dense (BF16/F16/F32) checkpoint's decoder projections to FP8 e4m3 as it loads, one "
                 "scale per output channel, activations quantised per token (what tern quantize --method fp8 "
                 "writes; docs/quantization.md). Quantized checkpoints need no flag")
      ->check(CLI::IsMember({"fp8"}));
  cmd.add_option("--tensor-parallel-size", o.tensor_parallel_size,
                 "split the model over this many GPUs of the host (GPUs 0..N-1 of CUDA_VISIBLE_DEVICES; on the CPU "
                 "backend, threads); it must divide the attention heads, KV heads and intermediate size")
      ->check(CLI::Range(1, kMaxTensorParallelSize))
      ->capture_default_str();
  cmd.add_option("--block-size", o.sizes.block_size, "tokens per KV cache block")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd.add_option("--num-kv-blocks", o.sizes.num_kv_blocks, "KV cache blocks (overrides the memory budget)")
      ->check(CLI::Range(1, 1 << 30));
  cmd.add_option("--kv-cache-memory", o.kv_cache_memory_gib, "CPU backend: GiB for the KV cache (default 2)")
      ->check(CLI::Range(0.0, 4096.0));
  cmd.add_option("--gpu-memory-utilization", o.gpu_memory_utilization,
                 "CUDA backend: fraction of GPU memory tern may use (weights, activations, KV cache)")
      ->check(CLI::Range(0.05, 0.99))
      ->capture_default_str();
  cmd.add_option("--max-model-len", o.sizes.max_model_len, "longest sequence (prompt + output); default: the model's")
      ->check(CLI::Range(1, 1 << 24));
  const EngineSizes gpu, cpu = EngineSizes::cpu_defaults();
  cmd.add_option("--max-num-batched-tokens", o.sizes.max_num_batched_tokens,
                 detail::concat("tokens computed per engine step (chunked prefill budget); default ",
                                gpu.max_num_batched_tokens, " (cuda) / ", cpu.max_num_batched_tokens, " (cpu)"))
      ->check(CLI::Range(16, 1 << 20));
  cmd.add_option("--max-num-seqs", o.sizes.max_num_seqs,
                 detail::concat("sequences in the running batch; default ", gpu.max_num_seqs, " (cuda) / ",
                                cpu.max_num_seqs, " (cpu)"))
      ->check(CLI::Range(1, 4096));
  cmd.add_option("--max-waiting", o.max_waiting, "requests queued before new ones are refused as busy")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd.add_flag("--no-prefix-caching", o.no_prefix_caching, "do not reuse the KV of shared prompt prefixes");
  cmd.add_option("--target-itl-ms", o.target_itl_ms,
                 "stall-free batching: while sequences decode, cut prompt chunks so that each step is predicted to "
                 "take at most this many milliseconds (the running requests' inter-token latency), from a cost model "
                 "fitted to the measured steps; long prompts then take more steps to start. 0: off, every step "
                 "fills --max-num-batched-tokens")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  cmd.add_option("--scheduler", o.scheduler, "continuous (default) or static (baseline: HF generate()-style batches)")
      ->check(CLI::IsMember({"continuous", "static"}));
  cmd.add_option("--kv-layout", o.kv_layout, "paged (default) or contiguous (baseline: max length reserved up front)")
      ->check(CLI::IsMember({"paged", "contiguous"}));
  CLI::Option* eager =
      cmd.add_flag("--enforce-eager", o.enforce_eager,
                   "CUDA backend: do not capture CUDA graphs (the default for now, see --cuda-graphs)");
  cmd.add_flag_callback(
         "--cuda-graphs", [&o] { o.enforce_eager = false; },
         "CUDA backend: capture CUDA graphs for decode steps. Off by default since 2026-12-07: on an H100 their "
         "replays gave stale outputs (greedy tokens repeating, structured requests failing; docs/performance.md, "
         "\"CUDA graph replays\"), so use it to measure kernel speed or to fix that, not to serve")
      ->excludes(eager);
  cmd.add_option("--speculative-method", o.speculative_method,
                 "speculative decoding: none; ngram (prompt lookup: draft what followed the latest earlier "
                 "occurrence of the last tokens in the prompt and output); or draft (a small model with the same "
                 "tokenizer drafts, --speculative-model). The output does not change, greedy or seeded")
      ->check(CLI::IsMember({"none", "ngram", "draft"}))
      ->capture_default_str();
  cmd.add_option("--speculative-model", o.speculative_model,
                 "with --speculative-method draft: the draft model's folder or Hugging Face repo id (e.g. "
                 "models/tern-demo-draft for the demo model, Qwen/Qwen2.5-0.5B-Instruct for Qwen2.5-7B-Instruct)");
  cmd.add_option("--num-speculative-tokens", o.speculative.num_tokens,
                 "most draft tokens a sequence verifies per step")
      ->check(CLI::Range(1, SpeculationStats::kMaxDrafts))
      ->capture_default_str();
  cmd.add_flag("--speculative-fixed-k", o.speculative.fixed_num_tokens,
               "draft --num-speculative-tokens whenever the limits allow, also for sequences whose drafts keep "
               "being rejected (by default they draft fewer); for measuring a fixed K");
  cmd.add_option("--speculative-disable-by-batch-size", o.speculative.disable_by_batch_size,
                 "no drafts in a step where more sequences than this decode (large batches are compute-bound: "
                 "verifying drafts would cost more than it saves)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd.add_option("--speculative-ngram-min", o.speculative.ngram.min_n,
                 "ngram: shortest suffix of the sequence matched against its earlier tokens")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd.add_option("--speculative-ngram-max", o.speculative.ngram.max_n, "ngram: longest suffix matched (tried first)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  add_kv_cache_options(cmd, o.kv_cache_dtype, o.calculate_kv_scales);
  add_threads_option(cmd, o.threads);
  cmd.add_flag("--quiet", o.quiet, "no progress output while loading");
}

std::vector<std::string> engine_option_flags(const EngineOptions& o) {
  const EngineOptions defaults;
  std::vector<std::string> flags;
  const auto add = [&](const char* flag, const auto& value, const auto& default_value) {
    if (value == default_value) return;
    flags.push_back(flag);
    if constexpr (std::is_same_v<std::decay_t<decltype(value)>, std::string>) {
      flags.push_back(value);
    } else {
      flags.push_back(detail::concat(value));
    }
  };
  add("--model", o.model, defaults.model);
  add("--revision", o.revision, defaults.revision);
  add("--backend", o.backend, defaults.backend);
  add("--quantization", o.quantization, defaults.quantization);
  add("--block-size", o.sizes.block_size, defaults.sizes.block_size);
  add("--num-kv-blocks", o.sizes.num_kv_blocks, defaults.sizes.num_kv_blocks);
  add("--kv-cache-memory", o.kv_cache_memory_gib, defaults.kv_cache_memory_gib);
  add("--gpu-memory-utilization", o.gpu_memory_utilization, defaults.gpu_memory_utilization);
  add("--max-model-len", o.sizes.max_model_len, defaults.sizes.max_model_len);
  add("--max-num-batched-tokens", o.sizes.max_num_batched_tokens, defaults.sizes.max_num_batched_tokens);
  add("--max-num-seqs", o.sizes.max_num_seqs, defaults.sizes.max_num_seqs);
  add("--max-waiting", o.max_waiting, defaults.max_waiting);
  add("--scheduler", o.scheduler, defaults.scheduler);
  add("--kv-layout", o.kv_layout, defaults.kv_layout);
  add("--threads", o.threads, defaults.threads);
  add("--kv-cache-dtype", o.kv_cache_dtype, defaults.kv_cache_dtype);
  if (o.calculate_kv_scales) flags.push_back("--calculate-kv-scales");
  add("--target-itl-ms", o.target_itl_ms, defaults.target_itl_ms);
  add("--speculative-method", o.speculative_method, defaults.speculative_method);
  add("--speculative-model", o.speculative_model, defaults.speculative_model);
  add("--num-speculative-tokens", o.speculative.num_tokens, defaults.speculative.num_tokens);
  add("--speculative-disable-by-batch-size", o.speculative.disable_by_batch_size,
      defaults.speculative.disable_by_batch_size);
  if (o.speculative.fixed_num_tokens) flags.push_back("--speculative-fixed-k");
  add("--speculative-ngram-min", o.speculative.ngram.min_n, defaults.speculative.ngram.min_n);
  add("--speculative-ngram-max", o.speculative.ngram.max_n, defaults.speculative.ngram.max_n);
  if (o.no_prefix_caching) flags.push_back("--no-prefix-caching");
  flags.push_back(o.enforce_eager ? "--enforce-eager" : "--cuda-graphs");
  if (o.quiet) flags.push_back("--quiet");
  return flags;
}

CLI::Option* add_model_options(CLI::App& cmd, std::string& model, std::string& revision, const std::string& what) {
  CLI::Option* option =
      cmd.add_option("--model", model,
                     what +
                         ", or a Hugging Face repo id (Qwen/Qwen2.5-7B-Instruct) found offline in the hub cache "
                         "(HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub); an existing folder wins");
  cmd.add_option("--revision", revision,
                 "with a repo id: the branch, tag or commit hash of the cached snapshot to load")
      ->capture_default_str();
  return option;
}

ResolvedModel resolve_model_option(const std::string& model, const std::string& revision) {
  if (model.empty()) {
    const std::string dir = default_model_dir();
    return {dir, fs::path(dir).filename().string()};
  }
  return resolve_model(model, revision, HubCacheEnv::from_environment());
}

std::string default_model_dir() {
  std::vector<fs::path> candidates;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / "models" / "tern-demo");
    candidates.push_back(exe.parent_path().parent_path() / "models" / "tern-demo");
    candidates.push_back(exe.parent_path().parent_path() / "share" / "tern" / "models" / "tern-demo");
  }
  candidates.push_back(fs::path(TERN_SOURCE_DIR) / "models" / "tern-demo");
  for (const auto& c : candidates)
    if (fs::exists(c / "config.json", ec)) return c.string();
  throw error(
      "no --model given and the built-in demo model (models/tern-demo) was not found next to the binary "
      "or in the source tree ",
      TERN_SOURCE_DIR);
}

namespace {

// Progress on stderr: a redrawn bar on a terminal, a line per quarter otherwise.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet) : quiet_(quiet), tty_(isatty(STDERR_FILENO)) {}
  void operator()(size_t done, size_t total) {
    if (quiet_ || total == 0) return;
    int pct = int(100.0 * double(done) / double(total));
    if (tty_) {
      int filled = pct / 4;
      std::fprintf(stderr, "\rloading weights [%-25s] %3d%% %.2f/%.2f GB", std::string(size_t(filled), '#').c_str(),
                   pct, double(done) / 1e9, double(total) / 1e9);
      if (done >= total) std::fprintf(stderr, "\n");
    } else if (pct >= next_pct_) {
      log_info("loading weights: ", pct, "% (", double(done) / 1e9, " of ", double(total) / 1e9, " GB)");
      next_pct_ = pct - pct % 25 + 25;
    }
  }

 private:
  bool quiet_, tty_;
  int next_pct_ = 0;
};

}  // namespace

void add_threads_option(CLI::App& cmd, int& threads) {
  cmd.add_option("--threads", threads,
                 "CPU backend: worker threads for the ops (default: the TERN_NUM_THREADS environment variable if set, "
                 "else all cores)")
      ->check(CLI::Range(0, 1024));
}

void add_kv_cache_options(CLI::App& cmd, std::string& dtype, bool& calculate_scales) {
  cmd.add_option("--kv-cache-dtype", dtype,
                 "KV cache element type: auto (the activations', BF16 on GPUs) or fp8 (e4m3, half the bytes per token; "
                 "one scale per layer for K and for V, from the checkpoint's k_scale/v_scale when it has them, else "
                 "1.0, or measured with --calculate-kv-scales)")
      ->check(CLI::IsMember({"auto", "fp8", "fp8_e4m3"}))
      ->capture_default_str();
  cmd.add_flag("--calculate-kv-scales", calculate_scales,
               "with --kv-cache-dtype fp8 and a checkpoint without KV scales: measure each layer's K and V range on a "
               "built-in sample text at start-up (a few seconds) and scale the FP8 cache to it, instead of 1.0");
}

void apply_kv_cache_options(LlamaModel& model, const KvCacheOptions& options, const std::string& model_dir,
                            bool quiet) {
  if (options.dtype == "auto") {
    if (options.calculate_scales) throw error("--calculate-kv-scales is for --kv-cache-dtype fp8");
    return;
  }
  const bool log = !quiet && model.shard().rank == 0;
  if (options.calculate_scales && model.has_kv_scales()) {
    if (log) log_info("--calculate-kv-scales: the checkpoint has KV scales; using those");
  } else if (options.calculate_scales) {
    const auto sequences = calibration_sequences(
        "", model_dir, std::min<int64_t>(512, model.config().max_position_embeddings));
    const KvScales scales = calibrate_kv_scales(model, sequences);
    if (log)
      log_info("KV scales measured on ", sequences.size(), " calibration sequences: K ",
               *std::min_element(scales.k.begin(), scales.k.end()), " to ",
               *std::max_element(scales.k.begin(), scales.k.end()), ", V ",
               *std::min_element(scales.v.begin(), scales.v.end()), " to ",
               *std::max_element(scales.v.begin(), scales.v.end()));
    model.set_kv_scales(scales.k, scales.v);
  }
  model.set_kv_cache_dtype(DType::kF8E4M3);
  if (log)
    log_info("KV cache in FP8 e4m3, scales ",
             options.calculate_scales || model.has_kv_scales()
                 ? (options.calculate_scales ? "measured" : "from the checkpoint")
                 : "1.0 (the checkpoint has none; --calculate-kv-scales measures them)");
}

std::string describe_backend(const Backend& backend) {
  if (backend.device() != Device::kCpu) return backend.name();
  const int threads = ThreadPool::global().num_threads();
  return backend.name() + " (" + std::to_string(threads) + (threads == 1 ? " worker thread)" : " worker threads)");
}

std::unique_ptr<Backend> open_backend(const std::string& name, int threads) {
  BackendOptions bo{.num_threads = threads};
  if (name != "auto") return make_backend(name, bo);
  try {
    return make_backend("cuda", bo);
  } catch (const Error&) {
    return make_backend("cpu", bo);
  }
}

std::unique_ptr<LlamaModel> load_model_with_progress(const std::string& model_dir, Backend& backend, bool quiet) {
  ProgressPrinter progress(quiet);
  return load_model(model_dir, backend, std::ref(progress));
}

LoadedEngine open_engine(const EngineOptions& o) {
  if (o.speculative_method == "draft" && o.speculative_model.empty())
    throw error("--speculative-method draft needs --speculative-model DIR (a small model with the target's tokenizer)");
  if (o.speculative_method != "draft" && !o.speculative_model.empty())
    throw error("--speculative-model is for --speculative-method draft (the method is ", o.speculative_method, ")");
  LoadedEngine out;
  ResolvedModel resolved = resolve_model_option(o.model, o.revision);
  out.model_dir = std::move(resolved.dir);
  out.model_name = std::move(resolved.name);
  out.tokenizer = Tokenizer::load(out.model_dir);
  ProgressPrinter progress(o.quiet);
  ModelRanks model = open_model_ranks(out.model_dir, o, std::ref(progress));
  const int num_ranks = int(model.ranks.size());
  const LlamaModel& model0 = *model.ranks[0].model;
  const bool cpu = model0.backend().device() == Device::kCpu;
  if (!o.quiet)
    log_info("model ", out.model_dir, " on backend ", describe_backend(model0.backend()),
             num_ranks == 1 ? std::string()
             : cpu          ? ", tensor parallel over " + std::to_string(num_ranks) +
                         " ranks (CPU threads: for testing, slower than one rank)"
                   : ", tensor parallel over " + std::to_string(num_ranks) + " GPUs");
  const KvCacheOptions kv_options{.dtype = o.kv_cache_dtype, .calculate_scales = o.calculate_kv_scales};
  for (ModelRank& rank : model.ranks) apply_kv_cache_options(*rank.model, kv_options, out.model_dir, o.quiet);
  const ModelConfig& mc = model0.config();
  out.weights_device_bytes = model0.weights_device_bytes();
  out.weight_format = !mc.quantization                                ? "bf16"
                      : mc.quantization->method == QuantMethod::kGptq ? "gptq-int4"
                      : mc.quantization->method == QuantMethod::kAwq  ? "awq-int4"
                                                                      : "fp8";

  if (o.sizes.max_model_len > mc.max_position_embeddings)
    throw error("--max-model-len ", o.sizes.max_model_len, " exceeds the model's max_position_embeddings ",
                mc.max_position_embeddings);
  const EngineSizes defaults = cpu ? EngineSizes::cpu_defaults() : EngineSizes{};
  ModelRunnerConfig rc{.sizes = resolve_model_len(o.sizes, model0), .enforce_eager = o.enforce_eager};
  EngineSizes& sizes = rc.sizes;
  if (sizes.max_num_batched_tokens == 0) sizes.max_num_batched_tokens = defaults.max_num_batched_tokens;
  if (sizes.max_num_seqs == 0) sizes.max_num_seqs = defaults.max_num_seqs;
  SpeculativeConfig speculative = o.speculative;
  speculative.method = o.speculative_method == "ngram"   ? SpeculativeMethod::kNgram
                       : o.speculative_method == "draft" ? SpeculativeMethod::kDraftModel
                                                         : SpeculativeMethod::kNone;
  if (speculative.method == SpeculativeMethod::kDraftModel && num_ranks > 1)
    throw error("--speculative-method draft runs on one GPU; it cannot be used with --tensor-parallel-size ",
                num_ranks);
  std::unique_ptr<LlamaModel> draft;
  if (speculative.method == SpeculativeMethod::kDraftModel) {
    const ResolvedModel draft_dir = resolve_model_option(o.speculative_model, o.revision);
    if (!o.quiet) log_info("draft model ", draft_dir.dir);
    draft = load_model_with_progress(draft_dir.dir, model.ranks[0].model->backend(), o.quiet);
    apply_kv_cache_options(*draft, kv_options, draft_dir.dir, true);
  }
  if (speculative.method != SpeculativeMethod::kNone) {
    if (speculative.ngram.max_n < speculative.ngram.min_n)
      throw error("--speculative-ngram-max ", speculative.ngram.max_n, " is below --speculative-ngram-min ",
                  speculative.ngram.min_n);
    // Logits rows for every draft of the largest batch that drafts.
    sizes.max_draft_tokens =
        speculative.num_tokens * std::min(sizes.max_num_seqs, speculative.disable_by_batch_size);
    if (!o.quiet)
      log_info("speculative decoding: ", o.speculative_method,
               speculative.method == SpeculativeMethod::kNgram
                   ? detail::concat(" (n-grams of ", speculative.ngram.min_n, " to ", speculative.ngram.max_n,
                                    " tokens)")
                   : " (" + o.speculative_model + ")",
               ", up to ", speculative.num_tokens, " drafts per sequence while at most ",
               speculative.disable_by_batch_size, " sequences decode");
  }
  sizes.num_kv_blocks = plan_kv_blocks({.num_kv_blocks = o.sizes.num_kv_blocks,
                                        .kv_cache_memory_gib = o.kv_cache_memory_gib,
                                        .gpu_memory_utilization = o.gpu_memory_utilization,
                                        .quiet = o.quiet},
                                       model.ranks, sizes, draft.get());
  if (!cpu && o.enforce_eager && !o.quiet)
    log_info(
        "decode steps run eagerly: CUDA graphs are off by default until their replays give the eager "
        "forward's outputs again (docs/performance.md, \"CUDA graph replays\"); --cuda-graphs turns them on");
  auto runner = std::make_unique<ModelRunner>(std::move(model.ranks), rc, std::move(model.threads));
  if (draft) runner->set_draft_model(std::move(draft));
  EngineConfig ec{.max_waiting = o.max_waiting,
                  .prefix_caching = o.no_prefix_caching ? PrefixCaching::kDisabled : PrefixCaching::kEnabled,
                  .scheduler = o.scheduler == "static" ? SchedulerMode::kStatic : SchedulerMode::kContinuous,
                  .kv_layout = o.kv_layout == "contiguous" ? KvLayout::kContiguous : KvLayout::kPaged,
                  .speculative = speculative,
                  .target_itl_ms = o.target_itl_ms};
  for (int64_t id : mc.eos_token_ids) ec.eos_token_ids.push_back(int32_t(id));
  for (int32_t id : read_generation_eos_ids(out.model_dir)) ec.eos_token_ids.push_back(id);
  out.engine = std::make_unique<Engine>(std::move(runner), out.tokenizer, ec);
  return out;
}

}  // namespace tern::app
