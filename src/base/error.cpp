#include "base/error.h"

namespace tern::detail {

void check_failed(const char* file, int line, const char* cond, const std::string& msg) {
  std::string text = concat("check failed: ", cond, " at ", file, ":", line);
  if (!msg.empty()) text += concat(" (", msg, ")");
  throw Error(text);
}

}  // namespace tern::detail
