// Drives one benchmark run: sends the prompts through a StreamClient either as a closed
// loop (at most `concurrency` in flight, the next sent as one ends) or as Poisson arrivals
// at `request_rate` (optionally capped by `concurrency`; arrivals that find no free slot
// wait in order), all on one io_context on the calling thread. A live progress line goes
// to stderr.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loadgen/openai_stream.h"
#include "loadgen/request_record.h"
#include "loadgen/stream_client.h"
#include "loadgen/workload.h"

namespace tern::loadgen {

struct LoadSpec {
  int32_t concurrency = 0;   // most requests in flight; 0: no limit
  double request_rate = 0;   // mean requests per second; 0: send as fast as the concurrency allows
  uint64_t seed = 0;         // of the arrival times
  bool progress = true;      // the live line on stderr
  std::string label;         // its prefix
};

struct LoadRun {
  std::vector<RequestRecord> records;  // one per prompt, in prompt order
  double duration_s = 0;               // first send to last record
  int32_t max_in_flight = 0;
};

// Throws tern::Error only when the host cannot be resolved; every request failure is a record.
LoadRun run_load(const StreamClientConfig& client, const RequestSettings& settings,
                 const std::vector<BenchPrompt>& prompts, const LoadSpec& spec);

}  // namespace tern::loadgen
