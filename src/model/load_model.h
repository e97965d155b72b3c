// Opens a Hugging Face model folder (config.json + safetensors) on a backend, whole or
// split over the ranks of a tensor-parallel group.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend/communicator.h"
#include "base/rank_threads.h"
#include "model/llama_model.h"

namespace tern {

struct LoadOptions {
  // Quantise a dense checkpoint's decoder projections to FP8 as they load (per-channel
  // weight scales, per-token activations: what `tern quantize --method fp8` writes).
  bool quantize_fp8 = false;
};

// config.json's model config, with `options` applied. Throws tern::Error for options the
// checkpoint cannot take (quantize_fp8 on a checkpoint that is already quantized).
ModelConfig load_model_config(const std::string& model_dir, const LoadOptions& options);

// Validates config.json, maps the safetensors and uploads every weight, reporting
// progress. Throws tern::Error with the folder, file and tensor named.
std::unique_ptr<LlamaModel> load_model(const std::string& model_dir, Backend& backend,
                                       const LoadProgress& progress = {}, const LoadOptions& options = {});

// Loads shard r of the model onto backends[r], for every rank at once on `threads` (one
// thread per rank, threads.size() == backends.size()), each rank reading only what it
// keeps. comms[r] joins the ranks (empty for one rank). `progress` gets the mean over the
// ranks of the checkpoint bytes each has read, from one thread at a time. Throws tern::Error, before reading any weight, when the
// model cannot be split that many ways (model/tensor_parallel.h).
std::vector<std::unique_ptr<LlamaModel>> load_model_shards(const std::string& model_dir,
                                                           const std::vector<Backend*>& backends,
                                                           const std::vector<Communicator*>& comms,
                                                           RankThreads& threads, const LoadProgress& progress = {},
                                                           const LoadOptions& options = {});

}  // namespace tern
