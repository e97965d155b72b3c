// The model opened on the backends of every rank of a tensor-parallel group (one rank
// when --tensor-parallel-size is 1): backends, communicators and weight shards, loaded
// in parallel, one thread per rank.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/engine_options.h"
#include "runner/model_runner.h"

namespace tern::app {

struct ModelRanks {
  std::vector<ModelRank> ranks;          // rank r: its backend, communicator and shard
  std::unique_ptr<RankThreads> threads;  // one per rank; the runner takes them over
};

// Picks the backend (--backend; auto: CUDA when a GPU is usable, else the CPU), one per
// rank (CUDA: GPU r for rank r), joins them, and loads each rank's shard with `progress`.
// Throws tern::Error when the size does not split the model (before any weight is read),
// when there are fewer GPUs than ranks, or when the communicators cannot be made.
ModelRanks open_model_ranks(const std::string& model_dir, const EngineOptions& options, const LoadProgress& progress);

}  // namespace tern::app
