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

// Validates config.json, maps the safetensors and uploads every weight, reporting
// progress. Throws tern::Error with the folder, file and tensor named.
std::unique_ptr<LlamaModel> load_model(const std::string& model_dir, Backend& backend,
                                       const LoadProgress& progress = {});

// Loads shard r of the model onto backends[r], for every rank at once on `threads` (one
// thread per rank, threads.size() == backends.size()), each rank reading only what it
// keeps. comms[r] joins the ranks (empty for one rank). `progress` gets the mean over the
// ranks of the checkpoint bytes each has read, from one thread at a time. Throws tern::Error, before reading any weight, when the
// model cannot be split that many ways (model/tensor_parallel.h).
std::vector<std::unique_ptr<LlamaModel>> load_model_shards(const std::string& model_dir,
                                                           const std::vector<Backend*>& backends,
                                                           const std::vector<Communicator*>& comms,
                                                           RankThreads& threads, const LoadProgress& progress = {});

}  // namespace tern
