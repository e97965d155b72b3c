// A whole file mapped read-only into memory, unmapped when the object dies. Share it
// through a std::shared_ptr so that tensor views into the mapping keep it alive.
#pragma once

#include <cstdint>
#include <string>

namespace tern {

class MappedFile {
 public:
  // Opens and maps `path`. Throws tern::Error naming the file if it cannot be opened or
  // mapped or is not a regular file. An empty file maps to data() == nullptr, size() 0.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  // The bytes are read-only: writing through this pointer faults. If another process
  // truncates the file while it is mapped, reading past the new end raises SIGBUS.
  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace tern
