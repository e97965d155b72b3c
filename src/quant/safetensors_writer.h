// Writes host tensors to a .safetensors file: an 8-byte little-endian header length, a
// JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}} padded with
// spaces to a multiple of 8 bytes, then the tensors' bytes back to back in name order.
// What model/safetensors.h reads, and what the Hugging Face `safetensors` library writes.
#pragma once

#include <map>
#include <string>

#include "tensor/tensor.h"

namespace tern {

// Throws tern::Error naming the path if the file cannot be written completely.
void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace tern
