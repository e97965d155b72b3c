// Safetensors reader: memory-mapped and zero-copy, one file or a sharded folder.
// Every header field is validated against the file before any tensor is handed out, so
// a truncated or hostile file gives a tern::Error naming the file and tensor and never
// reads out of bounds. The rules follow the reference `safetensors` crate: header at most
// 100 MB, UTF-8 JSON object without duplicate keys, known dtypes, and tensors that, sorted
// by offset, tile the data section exactly (no gap, no overlap, no trailing bytes).
// tern never loads pickle checkpoints (.bin, .pt, .pth, .pkl).
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
  std::vector<int64_t> shape;  // at most 8 dimensions, each >= 0
  uint64_t begin = 0;          // byte offsets into the data section, validated
  uint64_t end = 0;
};

class MappedFile;

class SafetensorsFile {
 public:
  // Maps `path` read-only and validates its header. Throws tern::Error.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  // Sorted by offset in the file.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const SafetensorsEntry* find(const std::string& name) const;
  // A read-only CPU view of the tensor's bytes inside the mapping; `owner` keeps the
  // mapping alive. Data not aligned to its element size in the file (legal, but never
  // written by the safetensors library) is copied to aligned memory instead. Throws if
  // the name is absent or the tensor has more than 4 dimensions.
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

// All weights of a model folder: the shards listed by model.safetensors.index.json
// ({"weight_map": {tensor: file}}) if it exists, else model.safetensors. Every listed
// shard must exist and hold the tensors listed for it; shard names must be plain file
// names inside the folder. The index decides which tensors exist.
class WeightStore {
 public:
  // Throws tern::Error naming the file at fault; for a folder with only pickle weights
  // the error says they must be converted to safetensors.
  static WeightStore open(const std::string& model_dir);

  bool has(const std::string& name) const;
  // Throws tern::Error naming the folder and the tensor if it is absent.
  Tensor get(const std::string& name) const;
  const SafetensorsEntry& entry(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  // The file a tensor lives in, for error messages.
  const std::string& file_of(const std::string& name) const;

 private:
  size_t file_index(const std::string& name) const;

  std::string dir_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> tensor_file_;
};

}  // namespace tern
