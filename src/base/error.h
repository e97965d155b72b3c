// Errors: one exception type carrying a message with its context (file, tensor, field).
// Loading and validation code throws tern::Error; the app and server catch it at the edge
// and print or return it as one line. TERN_CHECK is for internal invariants and adds
// the source location.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace tern {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
[[noreturn]] void check_failed(const char* file, int line, const char* cond, const std::string& msg);
}  // namespace detail

// Builds an Error from streamable pieces: throw error("tensor ", name, ": bad shape").
template <typename... Args>
Error error(Args&&... args) {
  return Error(detail::concat(std::forward<Args>(args)...));
}

}  // namespace tern

// Internal invariant: on failure throws tern::Error naming the condition, file and line.
#define TERN_CHECK(cond, ...)                                                              \
  do {                                                                                     \
    if (!(cond)) [[unlikely]]                                                              \
      ::tern::detail::check_failed(__FILE__, __LINE__, #cond,                              \
                                   ::tern::detail::concat("" __VA_OPT__(, ) __VA_ARGS__)); \
  } while (0)
