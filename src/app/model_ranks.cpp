#include "app/model_ranks.h"

#include "base/error.h"
#include "model/load_model.h"

namespace tern::app {
namespace {

std::unique_ptr<Backend> make_rank_backend(const std::string& name, const EngineOptions& o, int rank) {
  const BackendOptions bo{.device_index = rank, .num_threads = o.threads};
  if (rank == 0) return make_backend(name, bo);
  try {
    return make_backend(name, bo);
  } catch (const Error& e) {
    throw error("--tensor-parallel-size ", o.tensor_parallel_size, " needs ", o.tensor_parallel_size,
                " GPUs (one per rank; CUDA_VISIBLE_DEVICES picks them): ", e.what());
  }
}

std::vector<std::unique_ptr<Backend>> make_backends(const EngineOptions& o) {
  std::string name = o.backend;
  std::vector<std::unique_ptr<Backend>> backends;
  if (name == "auto") {
    backends.push_back(open_backend("auto", o.threads));  // rank 0: the GPU when one is usable
    name = backends[0]->name();
  }
  while (int(backends.size()) < o.tensor_parallel_size)
    backends.push_back(make_rank_backend(name, o, int(backends.size())));
  return backends;
}

}  // namespace

ModelRanks open_model_ranks(const std::string& model_dir, const EngineOptions& o, const LoadProgress& progress) {
  const int size = o.tensor_parallel_size;
  const LoadOptions load_options{.quantize_fp8 = o.quantization == "fp8"};
  // Checked first: a size that cannot split the model fails before GPUs are touched.
  check_tensor_parallel_size(load_model_config(model_dir, load_options), size);
  ModelRanks out;
  std::vector<std::unique_ptr<Backend>> backends = make_backends(o);
  std::vector<Backend*> backend_ptrs;
  for (auto& b : backends) backend_ptrs.push_back(b.get());
  std::vector<std::unique_ptr<Communicator>> comms;
  if (size > 1) comms = make_communicators(backend_ptrs);
  std::vector<Communicator*> comm_ptrs;
  for (auto& c : comms) comm_ptrs.push_back(c.get());
  out.threads = std::make_unique<RankThreads>(size);
  std::vector<std::unique_ptr<LlamaModel>> models =
      load_model_shards(model_dir, backend_ptrs, comm_ptrs, *out.threads, progress, load_options);
  for (int r = 0; r < size; ++r) {
    ModelRank rank;
    rank.backend = std::move(backends[size_t(r)]);
    if (size > 1) rank.comm = std::move(comms[size_t(r)]);
    rank.model = std::move(models[size_t(r)]);
    out.ranks.push_back(std::move(rank));
  }
  return out;
}

}  // namespace tern::app
