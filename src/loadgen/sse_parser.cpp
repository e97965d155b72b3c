#include "loadgen/sse_parser.h"

namespace tern::loadgen {

bool SseParser::feed(std::string_view bytes, const OnEvent& on_event) {
  size_t i = 0;
  while (i < bytes.size()) {
    if (after_cr_ && bytes[i] == '\n') ++i;  // the LF of a CRLF split across feeds
    after_cr_ = false;
    const size_t end = bytes.find_first_of("\r\n", i);
    line_.append(bytes.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
    if (line_.size() > kMaxLineBytes) return false;
    if (end == std::string_view::npos) break;
    after_cr_ = bytes[end] == '\r';
    i = end + 1;
    if (after_cr_ && i < bytes.size() && bytes[i] == '\n') {
      ++i;
      after_cr_ = false;
    }
    end_line(on_event);
  }
  return true;
}

void SseParser::finish(const OnEvent& on_event) {
  if (!line_.empty()) end_line(on_event);
  if (has_data_) on_event(data_);
  data_.clear();
  has_data_ = false;
}

void SseParser::end_line(const OnEvent& on_event) {
  if (line_.empty()) {
    if (has_data_) on_event(data_);
    data_.clear();
    has_data_ = false;
    return;
  }
  const size_t colon = line_.find(':');
  if (colon != 0 && std::string_view(line_).substr(0, colon) == "data") {
    std::string_view value = colon == std::string::npos ? std::string_view() : std::string_view(line_).substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (has_data_) data_ += '\n';
    data_.append(value);
    has_data_ = true;
  }
  line_.clear();
}

}  // namespace tern::loadgen
