// An in-process load generator for the engine: many requests of fixed prompt and output
// lengths, optionally with a cap on how many run at once, timed per token as the caller
// of the engine sees them. `tern bench engine` reports its numbers.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/engine.h"

namespace tern::app {

struct LoadSpec {
  int32_t num_requests = 1;
  int32_t input_len = 128;
  int32_t output_len = 128;
  int32_t max_concurrency = 0;  // 0: all at once
  uint64_t seed = 1;            // random prompt tokens; distinct per request (no prefix hits)
  int32_t vocab_size = 0;       // prompt ids are drawn from [0, vocab_size)
  // > 0: each prompt is this many random ids repeated to input_len, text that prompt
  // lookup (speculative ngram) can draft from.
  int32_t prompt_period = 0;
};

struct LoadResult {
  double duration_s = 0;
  int64_t output_tokens = 0;
  std::vector<double> ttft_s;            // per request: add_request -> first token
  std::vector<double> itl_s;             // every gap between consecutive tokens
  std::vector<double> decode_tokens_per_s;  // per request: (tokens - 1) / (last - first)
  int32_t failed = 0;
};

// Runs the load on a started engine and waits for every request.
LoadResult run_load(Engine& engine, const LoadSpec& spec);

// What decoding sequences feel while a long prompt is admitted (stall-free batching,
// --target-itl-ms): `decodes` requests of decode_input_len tokens start and decode; once
// each has 16 tokens (steps enough to train the step cost model), one prompt of
// long_prompt_len tokens arrives; when its first token is out, the decodes are aborted.
struct InterferenceSpec {
  int32_t decodes = 8;
  int32_t decode_input_len = 128;
  int32_t long_prompt_len = 0;  // 0: no interference run
  uint64_t seed = 1;
  int32_t vocab_size = 0;
};

struct InterferenceResult {
  double long_prompt_ttft_s = 0;
  // Gaps between consecutive tokens of the decodes that ended while the long prompt was
  // being computed (from its arrival to its first token).
  std::vector<double> itl_s;
  int64_t decode_tokens = 0;  // decode tokens in that window
};

InterferenceResult run_interference(Engine& engine, const InterferenceSpec& spec);

// The p-th percentile (0..100) by nearest rank; 0 for none.
double percentile(std::vector<double> v, double p);

double median(std::vector<double> v);

}  // namespace tern::app
