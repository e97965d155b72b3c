// Host sampling of one full logits row of Qwen2.5-7B's vocabulary (152064), the path a
// request takes when the GPU's top-k candidates cannot decide its token (no top-k, or
// penalties / logit_bias). Two shapes of row: "peaked" like a trained model's (a few
// tokens hold most of the mass) and "flat" like a random-weight model's.
//
//   build/bench/sampler_bench
#include <benchmark/benchmark.h>

#include <random>

#include "runner/sampler.h"

namespace tern {
namespace {

constexpr int kVocab = 152064;

std::vector<float> make_row(bool peaked) {
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, peaked ? 2.0f : 0.05f);
  std::vector<float> row(kVocab);
  for (float& v : row) v = noise(rng);
  if (peaked)
    for (int i = 0; i < 20; ++i) row[size_t(rng() % kVocab)] += 12.0f - float(i) * 0.4f;
  return row;
}

void sample_row(benchmark::State& state, bool peaked, SamplingParams p) {
  const std::vector<float> row = make_row(peaked);
  SamplerScratch scratch;
  uint64_t draws = 0;
  for (auto _ : state) {
    std::vector<int32_t> output(draws++ % 64);  // a new draw index each time
    StepSequence seq{.seq_id = 1, .sample = true, .params = &p, .seed = 3, .output_token_ids = output};
    benchmark::DoNotOptimize(sample_token(row, seq, scratch));
  }
}

void Greedy(benchmark::State& s) { sample_row(s, true, {.temperature = 0.0f}); }
void Temperature1Peaked(benchmark::State& s) { sample_row(s, true, {.temperature = 1.0f}); }
void Temperature1Flat(benchmark::State& s) { sample_row(s, false, {.temperature = 1.0f}); }
void TopP09Peaked(benchmark::State& s) { sample_row(s, true, {.temperature = 0.6f, .top_p = 0.9f}); }
void TopP09Flat(benchmark::State& s) { sample_row(s, false, {.temperature = 0.6f, .top_p = 0.9f}); }
void MinP01Flat(benchmark::State& s) { sample_row(s, false, {.temperature = 1.0f, .min_p = 0.1f}); }
void Logprobs5Peaked(benchmark::State& s) { sample_row(s, true, {.temperature = 1.0f, .logprobs = 5}); }

BENCHMARK(Greedy)->Unit(benchmark::kMicrosecond);
BENCHMARK(Temperature1Peaked)->Unit(benchmark::kMicrosecond);
BENCHMARK(Temperature1Flat)->Unit(benchmark::kMicrosecond);
BENCHMARK(TopP09Peaked)->Unit(benchmark::kMicrosecond);
BENCHMARK(TopP09Flat)->Unit(benchmark::kMicrosecond);
BENCHMARK(MinP01Flat)->Unit(benchmark::kMicrosecond);
BENCHMARK(Logprobs5Peaked)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tern

BENCHMARK_MAIN();
