#include "loadgen/prometheus_text.h"

#include <cstdlib>
#include <string>

namespace tern::loadgen {

std::map<std::string, double> parse_prometheus_text(std::string_view text) {
  std::map<std::string, double> values;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (line.empty() || line.front() == '#') continue;
    // The name may carry labels with spaces in their values: the value follows the '}'.
    const size_t labels_end = line.find('}');
    const size_t name_end = line.find(' ', labels_end == std::string_view::npos ? 0 : labels_end);
    if (name_end == std::string_view::npos) continue;
    const std::string value(line.substr(name_end + 1, line.find(' ', name_end + 1) - name_end - 1));
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (end == value.c_str() || *end != '\0') continue;
    values[std::string(line.substr(0, name_end))] = v;
  }
  return values;
}

}  // namespace tern::loadgen
