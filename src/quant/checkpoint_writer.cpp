#include "quant/checkpoint_writer.h"

#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "quant/packed_linear.h"
#include "quant/safetensors_writer.h"
#include "tensor/convert.h"

namespace tern {
namespace {

namespace fs = std::filesystem;

// Files of a model folder that hold weights or the config, which the writer replaces.
bool is_weight_or_config(const fs::path& file) {
  const std::string name = file.filename().string(), ext = file.extension().string();
  return name == "config.json" || name == "model.safetensors.index.json" || name == "quantize_config.json" ||
         ext == ".safetensors" || ext == ".bin" || ext == ".pt" || ext == ".pth" || ext == ".pkl";
}

}  // namespace

CheckpointWriter::CheckpointWriter(nlohmann::json config, nlohmann::json quantization_config)
    : config_(std::move(config)) {
  config_["quantization_config"] = std::move(quantization_config);
}

void CheckpointWriter::add_linear(const std::string& module, const Int4Weight& weight, const Tensor& bias) {
  const PackedLinear packed = pack_gptq(weight, GptqFormat::kV1);
  tensors_[module + ".qweight"] = packed.qweight;
  tensors_[module + ".qzeros"] = packed.qzeros;
  tensors_[module + ".scales"] = packed.scales;
  tensors_[module + ".g_idx"] = packed.g_idx;
  if (!bias.empty()) tensors_[module + ".bias"] = bias.dtype == DType::kF16 ? bias : convert_host(bias, DType::kF16);
}

void CheckpointWriter::add_linear(const std::string& module, const Fp8Weight& weight, const Tensor& bias) {
  TERN_CHECK(!weight.block_scaled() && weight.activations == Fp8Activations::kPerToken,
             "the FP8 writer takes channel-scaled weights with per-token activations");
  tensors_[module + ".weight"] = weight.values;
  tensors_[module + ".weight_scale"] = weight.scales.reshape({weight.out_features(), 1});
  if (!bias.empty()) tensors_[module + ".bias"] = bias;
}

void CheckpointWriter::add_tensor(const std::string& name, const Tensor& tensor) { tensors_[name] = tensor; }

void CheckpointWriter::write(const std::string& out_dir, const std::string& source_dir) const {
  std::error_code ec;
  if (fs::exists(out_dir) && fs::equivalent(out_dir, source_dir, ec))
    throw error(out_dir, ": the output folder must differ from the model folder");
  fs::create_directories(out_dir, ec);
  if (ec) throw error(out_dir, ": cannot create the folder: ", ec.message());
  for (const auto& entry : fs::directory_iterator(source_dir)) {
    if (!entry.is_regular_file() || is_weight_or_config(entry.path())) continue;
    fs::copy_file(entry.path(), fs::path(out_dir) / entry.path().filename(), fs::copy_options::overwrite_existing, ec);
    if (ec) throw error(entry.path().string(), ": cannot copy to ", out_dir, ": ", ec.message());
  }
  write_safetensors((fs::path(out_dir) / "model.safetensors").string(), tensors_);
  const std::string config_path = (fs::path(out_dir) / "config.json").string();
  std::ofstream config(config_path, std::ios::trunc);
  config << config_.dump(2) << "\n";
  config.close();
  if (!config) throw error(config_path, ": writing failed");
}

}  // namespace tern
