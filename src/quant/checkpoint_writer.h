// Assembles and writes a quantized checkpoint folder (what `tern quantize` produces): one
// model.safetensors with the quantised linear layers and every other tensor as it was;
// config.json with quantization_config added; and the source folder's tokenizer,
// generation and other non-weight files copied. INT4 layers are written as GPTQ
// (`<module>.qweight/.qzeros/.scales/.g_idx`, checkpoint_format "gptq", v1 zero points,
// bias in F16); FP8 layers as compressed-tensors (`<module>.weight` F8_E4M3 [N, K],
// `<module>.weight_scale` F32 [N, 1], bias as stored).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "quant/fp8_weight.h"
#include "quant/int4_weight.h"
#include "tensor/tensor.h"

namespace tern {

class CheckpointWriter {
 public:
  // `config` is the source config.json; `quantization_config` is added to it.
  CheckpointWriter(nlohmann::json config, nlohmann::json quantization_config);

  // Packs the weight now (so the Int4Weight can be freed). bias may be empty.
  void add_linear(const std::string& module, const Int4Weight& weight, const Tensor& bias);
  // A channel-scaled FP8 weight with per-token activations (quantize_fp8); bias may be empty.
  void add_linear(const std::string& module, const Fp8Weight& weight, const Tensor& bias);
  // A tensor written unchanged (embeddings, norms, lm_head). It must stay valid until write().
  void add_tensor(const std::string& name, const Tensor& tensor);

  // Creates out_dir if needed and writes everything. Refuses to write into source_dir.
  // Throws tern::Error naming the file that failed.
  void write(const std::string& out_dir, const std::string& source_dir) const;

 private:
  nlohmann::json config_;
  std::map<std::string, Tensor> tensors_;
};

}  // namespace tern
