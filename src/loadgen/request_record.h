// What the benchmark keeps of one request: whether it succeeded (or why not), its times
// and its token counts. Times are seconds; `start_s` counts from the start of the run,
// the others from the moment the request was sent.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tern::loadgen {

struct RequestRecord {
  bool ok = false;
  // When !ok: connect_error, http_<status>, disconnected, timeout, malformed_http,
  // malformed_sse, not_event_stream, stream_error, truncated_stream, no_tokens.
  std::string error_class;
  std::string error_message;
  double start_s = 0;
  double ttft_s = 0;           // to the first token chunk
  double e2e_s = 0;            // to the end of the stream
  std::vector<double> itl_s;   // gaps between consecutive token chunks
  int64_t output_tokens = 0;   // usage.completion_tokens, else token chunks
  int64_t prompt_tokens = 0;   // usage.prompt_tokens, else the workload's count (0: unknown)
  bool tokens_from_usage = false;
};

}  // namespace tern::loadgen
