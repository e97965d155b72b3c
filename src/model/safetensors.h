// Safetensors reader: memory-mapped and zero-copy, one file or a sharded folder.
// Every header field is validated against the file before any tensor is handed out, so
// a truncated or hostile file gives a tern::Error naming the file and tensor and never
// reads out of bounds.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace tern {

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section, validated
  uint64_t end = 0;
};

class MappedFile;

class SafetensorsFile {
 public:
  // Maps `path` read-only and validates its header. Throws tern::Error.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const SafetensorsEntry* find(const std::string& name) const;
  // A CPU view of the tensor's bytes inside the mapping; the view keeps the mapping
  // alive. Throws if the name is absent.
  Tensor tensor(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::string path_;
  std::shared_ptr<MappedFile> map_;
  const uint8_t* data_ = nullptr;  // start of the data section
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// All weights of a model folder: model.safetensors, or the shards listed by
// model.safetensors.index.json (every listed shard must exist and hold its tensors).
class WeightStore {
 public:
  static WeightStore open(const std::string& model_dir);

  bool has(const std::string& name) const;
  // Throws tern::Error naming the folder and the tensor if it is absent.
  Tensor get(const std::string& name) const;
  const SafetensorsEntry& entry(const std::string& name) const;
  std::vector<std::string> names() const;
  // The file a tensor lives in, for error messages.
  const std::string& file_of(const std::string& name) const;

 private:
  std::string dir_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> tensor_file_;
};

}  // namespace tern
