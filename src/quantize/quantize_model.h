// `tern quantize` as a library: writes a quantized copy of a dense model folder that tern
// and transformers both load. 4-bit GPTQ format: RTN rounds every group to its nearest
// grid point; GPTQ quantises each decoder projection against the Hessian of its inputs on
// calibration text (quantize/gptq_calibration.h). FP8: compressed-tensors float-quantized
// W8A8, one scale per output channel, activations quantised per token at run time.
// Everything that is not a decoder projection (embeddings, norms, lm_head) is copied as
// stored.
#pragma once

#include <cstdint>
#include <string>

namespace tern {

enum class QuantizeMethod {
  kRtn,   // round to nearest
  kGptq,  // Hessian error compensation
  kFp8,   // e4m3 with per-channel scales
};

struct QuantizeModelOptions {
  std::string model_dir;  // dense model folder (config.json + safetensors + tokenizer)
  std::string out_dir;
  QuantizeMethod method = QuantizeMethod::kGptq;
  int64_t group_size = 128;  // input columns per scale; -1: one group per output row
  bool sym = false;          // symmetric grid (zero point 8)
  bool desc_act = false;     // GPTQ act-order: columns by decreasing Hessian diagonal
  std::string calibration;   // GPTQ calibration text file; empty: a built-in sample
  int bits = 0;              // 0: the method's width (4 for rtn/gptq, 8 for fp8), the only ones written
};

// Checks the options against the model's config.json, quantises every decoder layer
// (logging each) and writes the checkpoint to out_dir. Throws tern::Error naming the
// option, file or tensor at fault; options that do not fit the model fail before any
// weight is read.
void quantize_model(const QuantizeModelOptions& options);

}  // namespace tern
