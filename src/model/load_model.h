// Opens a Hugging Face model folder (config.json + safetensors) on a backend.
#pragma once

#include <memory>
#include <string>

#include "model/llama_model.h"

namespace tern {

// Validates config.json, maps the safetensors and uploads every weight, reporting
// progress. Throws tern::Error with the folder, file and tensor named.
std::unique_ptr<LlamaModel> load_model(const std::string& model_dir, Backend& backend,
                                       const LoadProgress& progress = {});

}  // namespace tern
