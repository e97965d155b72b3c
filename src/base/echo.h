// Input bytes quoted in an error message are cut short: a client must not be able to make
// an error body as large as its request (a 1 MB unterminated string once came back whole
// in the 400), nor a model file a log line as large as itself.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tern {

inline constexpr size_t kMaxEchoBytes = 64;

// `bytes` when at most `max_bytes` long; else its first `max_bytes` bytes, cut back to a
// UTF-8 character boundary, followed by "...". Bytes that are not UTF-8 stay as they are
// (error bodies replace them when they are serialised).
std::string echo(std::string_view bytes, size_t max_bytes = kMaxEchoBytes);

}  // namespace tern
