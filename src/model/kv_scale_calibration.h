// Scales for an FP8 KV cache measured on the model itself (--calculate-kv-scales), for
// checkpoints that carry none: the calibration tokens run through the model with a cache
// in the activation dtype, and each layer's scale is the largest |K| (after RoPE) or |V|
// any of them produced, over 448, so that the measured range fills e4m3's without
// saturating. Without it the scales are 1.0, which rounds values below 2^-6 (often most of
// V) to e4m3's coarse subnormal steps.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/llama_model.h"

namespace tern {

struct KvScales {
  std::vector<float> k, v;  // per layer
};

// Runs each sequence (each at most the model's max_position_embeddings) through `model`,
// whose KV cache dtype must still be its activation dtype. A whole model only (tensor
// parallelism would need every rank to run at once). Throws tern::Error otherwise.
KvScales calibrate_kv_scales(const LlamaModel& model, std::span<const std::vector<int32_t>> sequences);

}  // namespace tern
