// Reads the Prometheus text format a server's /metrics answers with, for the values the
// ablation takes from tern (peak memory, most requests resident at once).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace tern::loadgen {

// "name{labels}" -> value for every sample line; comments, blank lines and lines that do
// not end in a number are skipped; a sample's optional timestamp is ignored.
std::map<std::string, double> parse_prometheus_text(std::string_view text);

}  // namespace tern::loadgen
