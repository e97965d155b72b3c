#include "model/kv_scale_calibration.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "model/sequence_logits.h"
#include "tensor/convert.h"

namespace tern {
namespace {

// Largest |x| over the first `slots` slots of a cache tensor (copied to the host).
float amax(Backend& backend, const Tensor& cache, int64_t slots) {
  const int64_t row = cache.numel() / (cache.dim(0) * cache.dim(1));
  Tensor host = host_tensor(cache.dtype, {cache.numel()});
  backend.copy_to_host(cache, host.data);
  std::vector<float> values(size_t(slots * row));
  read_as_f32(host, 0, slots * row, values.data());
  float m = 0.0f;
  for (float x : values) m = std::max(m, std::fabs(x));
  return m;
}

}  // namespace

KvScales calibrate_kv_scales(const LlamaModel& model, std::span<const std::vector<int32_t>> sequences) {
  if (!model.shard().whole())
    throw error("--calculate-kv-scales needs the whole model on one device (not with --tensor-parallel-size)");
  if (model.kv_cache_dtype() != model.backend().activation_dtype())
    throw error("KV scale calibration runs with a cache in the activation dtype, before the FP8 cache is set up");
  int64_t longest = 0;
  for (const auto& s : sequences) longest = std::max<int64_t>(longest, int64_t(s.size()));
  if (longest == 0) throw error("KV scale calibration needs at least one token");
  const int64_t layers = model.config().num_hidden_layers;
  std::vector<float> k_max(size_t(layers), 0.0f), v_max(size_t(layers), 0.0f);
  SequenceLogits runner(model, longest);
  for (const auto& ids : sequences) {
    if (ids.empty()) continue;
    runner.run(ids, [](int64_t, const float*, int64_t) {});
    for (int64_t l = 0; l < layers; ++l) {
      const KvCacheLayer& layer = runner.kv_cache()[size_t(l)];
      k_max[size_t(l)] = std::max(k_max[size_t(l)], amax(model.backend(), layer.k, int64_t(ids.size())));
      v_max[size_t(l)] = std::max(v_max[size_t(l)], amax(model.backend(), layer.v, int64_t(ids.size())));
    }
  }
  KvScales scales;
  // An all-zero layer keeps a positive scale.
  for (int64_t l = 0; l < layers; ++l) {
    scales.k.push_back(std::max(k_max[size_t(l)], 1e-12f) / kE4m3Max);
    scales.v.push_back(std::max(v_max[size_t(l)], 1e-12f) / kE4m3Max);
  }
  return scales;
}

}  // namespace tern
