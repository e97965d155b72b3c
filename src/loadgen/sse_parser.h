// Incremental parser of a text/event-stream body, by the WHATWG rules that OpenAI-style
// servers follow: lines end in LF, CRLF or CR; `data:` lines (one optional space after
// the colon) are joined with LF; a blank line ends the event; comments (":...") and other
// fields (event, id, retry) are ignored. Bytes may arrive split anywhere, even inside CRLF.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace tern::loadgen {

class SseParser {
 public:
  using OnEvent = std::function<void(std::string_view data)>;

  // A line longer than this makes feed() fail (a server streaming garbage).
  static constexpr size_t kMaxLineBytes = size_t{16} << 20;

  // Calls on_event with the data of every event the bytes complete. Returns false when a
  // line exceeds kMaxLineBytes; the parser is then unusable.
  bool feed(std::string_view bytes, const OnEvent& on_event);
  // End of the body. Leniently delivers a last event that lacked its blank line (the
  // standard drops it), so "data: [DONE]" at the very end still counts.
  void finish(const OnEvent& on_event);

 private:
  void end_line(const OnEvent& on_event);

  std::string line_;
  std::string data_;
  bool has_data_ = false;
  bool after_cr_ = false;
};

}  // namespace tern::loadgen
