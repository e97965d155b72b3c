#include "base/echo.h"

#include "base/utf8.h"

namespace tern {

std::string echo(std::string_view bytes, size_t max_bytes) {
  if (bytes.size() <= max_bytes) return std::string(bytes);
  std::string_view head = bytes.substr(0, max_bytes);
  head.remove_suffix(utf8::incomplete_suffix_length(head));  // never half a character
  return std::string(head) + "...";
}

}  // namespace tern
