#include "base/echo.h"

namespace tern {

std::string echo(std::string_view bytes, size_t max_bytes) {
  if (bytes.size() <= max_bytes) return std::string(bytes);
  size_t end = max_bytes;
  // Back off continuation bytes (10xxxxxx) so a multibyte character is not cut in half.
  while (end > 0 && (static_cast<unsigned char>(bytes[end]) & 0xC0) == 0x80) --end;
  return std::string(bytes.substr(0, end)) + "...";
}

}  // namespace tern
