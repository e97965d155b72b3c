#include "quant/safetensors_writer.h"

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/error.h"

namespace tern {

void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (t.device != Device::kCpu || (t.empty() && t.numel() != 0))
      throw error(path, ": tensor '", name, "' is not in host memory");
    std::vector<int64_t> shape(t.shape.begin(), t.shape.begin() + t.ndim);
    header[name] = {{"dtype", dtype_name(t.dtype)}, {"shape", shape}, {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw error(path, ": cannot create the file");
  const uint64_t length = text.size();
  unsigned char prefix[8];
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(length >> (8 * i));
  out.write(reinterpret_cast<const char*>(prefix), 8);
  out.write(text.data(), std::streamsize(text.size()));
  for (const auto& [name, t] : tensors) out.write(static_cast<const char*>(t.data), std::streamsize(t.nbytes()));
  out.close();
  if (!out) throw error(path, ": writing ", offset, " bytes of tensors failed (disk full?)");
}

}  // namespace tern
