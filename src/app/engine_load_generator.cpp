#include "app/engine_load_generator.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

namespace tern::app {
namespace {
using Clock = std::chrono::steady_clock;
double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

LoadResult run_load(Engine& engine, const LoadSpec& spec) {
  std::mt19937_64 rng(spec.seed);
  std::uniform_int_distribution<int32_t> token(0, spec.vocab_size - 1);
  const int32_t limit = spec.max_concurrency > 0 ? spec.max_concurrency : spec.num_requests;
  std::mutex mutex;
  std::condition_variable slot_free;
  int32_t running = 0;
  LoadResult result;
  std::vector<std::thread> consumers;
  const Clock::time_point start = Clock::now();

  for (int32_t i = 0; i < spec.num_requests; ++i) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      slot_free.wait(lock, [&] { return running < limit; });
      ++running;
    }
    std::vector<int32_t> prompt(static_cast<size_t>(spec.input_len));
    const size_t period = spec.prompt_period > 0 ? size_t(spec.prompt_period) : prompt.size();
    for (size_t k = 0; k < prompt.size(); ++k) prompt[k] = k < period ? token(rng) : prompt[k - period];
    SamplingParams params{.temperature = 0.0f, .max_tokens = spec.output_len, .ignore_eos = true};
    const Clock::time_point added = Clock::now();
    RequestHandle handle = engine.add_request(std::move(prompt), params);
    consumers.emplace_back([&, handle, added]() mutable {
      std::vector<Clock::time_point> times;
      int64_t tokens = 0;
      bool failed = false;
      while (std::optional<RequestOutput> out = handle.next()) {
        const Clock::time_point now = Clock::now();
        for (size_t k = 0; k < out->token_ids.size(); ++k) times.push_back(now);
        tokens += int64_t(out->token_ids.size());
        failed = failed || (out->finish_reason && *out->finish_reason == FinishReason::kError);
      }
      std::lock_guard<std::mutex> lock(mutex);
      --running;
      slot_free.notify_one();
      if (failed || times.empty()) {
        ++result.failed;
        return;
      }
      result.output_tokens += tokens;
      result.ttft_s.push_back(seconds(times.front() - added));
      for (size_t k = 1; k < times.size(); ++k) result.itl_s.push_back(seconds(times[k] - times[k - 1]));
      if (times.size() > 1)
        result.decode_tokens_per_s.push_back(double(times.size() - 1) / seconds(times.back() - times.front()));
    });
  }
  for (auto& t : consumers) t.join();
  result.duration_s = seconds(Clock::now() - start);
  return result;
}

}  // namespace tern::app
