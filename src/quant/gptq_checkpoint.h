// Assembles and writes a GPTQ checkpoint folder (what `tern quantize` produces): one
// model.safetensors with `<module>.qweight/.qzeros/.scales/.g_idx` (checkpoint_format
// "gptq", v1 zero points) and `<module>.bias` in F16 for every quantised linear layer,
// every other tensor as it was; config.json with quantization_config added; and the
// source folder's tokenizer, generation and other non-weight files copied.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "quant/int4_weight.h"
#include "tensor/tensor.h"

namespace tern {

class GptqCheckpointWriter {
 public:
  // `config` is the source config.json; `quantization_config` is added to it.
  GptqCheckpointWriter(nlohmann::json config, nlohmann::json quantization_config);

  // Packs the weight now (so the Int4Weight can be freed). bias may be empty.
  void add_linear(const std::string& module, const Int4Weight& weight, const Tensor& bias);
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
