#include "model/mapped_file.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/regular_file.h"

namespace tern {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  const RegularFile file(path, kNoSizeLimit);  // a regular file, never a FIFO or a device
  size_ = file.size();
  if (size_ == 0) return;  // mmap rejects a zero length; an empty mapping needs no memory
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, file.fd(), 0);
  if (p == MAP_FAILED) throw error(path, ": cannot map ", size_, " bytes: ", std::strerror(errno));
  data_ = static_cast<const uint8_t*>(p);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace tern
