// Reading the files of a model folder (and files named on the command line) safely: the
// path must lead, after symbolic links, to a regular file of at most a given size. A link
// to /dev/zero would otherwise be read until memory runs out, and a FIFO would block the
// loader forever waiting for a writer; both are refused with an error naming the file,
// before a byte is read (the file is opened without blocking and checked with fstat).
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace tern {

inline constexpr uint64_t kNoSizeLimit = std::numeric_limits<uint64_t>::max();

// An open regular file; closes its descriptor when destroyed.
class RegularFile {
 public:
  // Throws tern::Error "<path>: ..." when the file cannot be opened, is not a regular file
  // (naming what it is: a FIFO, a character device, a directory, ...), or is larger than
  // max_bytes.
  RegularFile(const std::string& path, uint64_t max_bytes);
  ~RegularFile();
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }  // as fstat saw it when opened

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
};

// The whole of a regular file of at most max_bytes (its size when opened: bytes appended
// later are not read). Throws tern::Error as RegularFile does, or when reading fails.
std::string read_regular_file(const std::string& path, uint64_t max_bytes);

}  // namespace tern
