#include "model/load_model.h"

namespace tern {

std::unique_ptr<LlamaModel> load_model(const std::string& model_dir, Backend& backend, const LoadProgress& progress) {
  ModelConfig config = load_model_config(model_dir);
  WeightStore store = WeightStore::open(model_dir);
  ModelWeights weights = load_weights(config, store, backend, progress);
  return std::make_unique<LlamaModel>(std::move(config), std::move(weights), backend);
}

}  // namespace tern
