// Minimal leveled logging to stderr. The default level is info; prompt text and keys
// must never be logged at info or above (docs/security.md).
#pragma once

#include <string>

#include "base/error.h"

namespace tern {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

void set_log_level(LogLevel level);
LogLevel log_level();
void log_line(LogLevel level, const std::string& text);

template <typename... Args>
void log_debug(Args&&... a) {
  if (log_level() <= LogLevel::kDebug) log_line(LogLevel::kDebug, detail::concat(std::forward<Args>(a)...));
}
template <typename... Args>
void log_info(Args&&... a) {
  if (log_level() <= LogLevel::kInfo) log_line(LogLevel::kInfo, detail::concat(std::forward<Args>(a)...));
}
template <typename... Args>
void log_warn(Args&&... a) {
  if (log_level() <= LogLevel::kWarn) log_line(LogLevel::kWarn, detail::concat(std::forward<Args>(a)...));
}
template <typename... Args>
void log_error(Args&&... a) {
  if (log_level() <= LogLevel::kError) log_line(LogLevel::kError, detail::concat(std::forward<Args>(a)...));
}

}  // namespace tern
