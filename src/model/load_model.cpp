#include "model/load_model.h"

#include <mutex>

#include "base/error.h"

namespace tern {

ModelConfig load_model_config(const std::string& model_dir, const LoadOptions& options) {
  ModelConfig config = load_model_config(model_dir);
  if (options.quantize_fp8) {
    if (config.quantization)
      throw error(model_dir, "/config.json: --quantization fp8 quantises a dense checkpoint, and this one is already "
                             "quantized (its quantization_config is used as it is; leave the flag out)");
    config.quantization = online_fp8_config();
  }
  return config;
}

std::unique_ptr<LlamaModel> load_model(const std::string& model_dir, Backend& backend, const LoadProgress& progress,
                                       const LoadOptions& options) {
  ModelConfig config = load_model_config(model_dir, options);
  WeightStore store = WeightStore::open(model_dir);
  ModelWeights weights = load_weights(config, store, backend, progress);
  return std::make_unique<LlamaModel>(std::move(config), std::move(weights), backend);
}

std::vector<std::unique_ptr<LlamaModel>> load_model_shards(const std::string& model_dir,
                                                           const std::vector<Backend*>& backends,
                                                           const std::vector<Communicator*>& comms,
                                                           RankThreads& threads, const LoadProgress& progress,
                                                           const LoadOptions& options) {
  const int size = int(backends.size());
  TERN_CHECK(threads.size() == size && (size == 1 ? comms.size() <= 1 : int(comms.size()) == size),
             "ranks: ", size, " backends, ", comms.size(), " communicators, ", threads.size(), " threads");
  const ModelConfig config = load_model_config(model_dir, options);
  check_tensor_parallel_size(config, size);
  const WeightStore store = WeightStore::open(model_dir);

  std::mutex progress_mutex;
  std::vector<size_t> done(size_t(size), 0);
  std::vector<std::unique_ptr<LlamaModel>> models(static_cast<size_t>(size));
  threads.run([&](int rank) {
    const LoadProgress rank_progress = [&, rank](size_t rank_done, size_t total) {
      if (!progress) return;
      std::lock_guard<std::mutex> lock(progress_mutex);
      done[size_t(rank)] = rank_done;
      size_t sum = 0;
      for (size_t d : done) sum += d;
      progress(sum / size_t(size), total);  // in checkpoint bytes, as for one rank
    };
    Backend& backend = *backends[size_t(rank)];
    ModelWeights weights = load_weights(config, store, backend, model_shard(config, rank, size), rank_progress);
    models[size_t(rank)] =
        std::make_unique<LlamaModel>(config, std::move(weights), backend, size > 1 ? comms[size_t(rank)] : nullptr);
  });
  return models;
}

}  // namespace tern
