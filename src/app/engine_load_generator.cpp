#include "app/engine_load_generator.h"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "base/error.h"

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

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t rank = size_t(std::ceil(p / 100.0 * double(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

InterferenceResult run_interference(Engine& engine, const InterferenceSpec& spec) {
  // Tokens each decode has before the long prompt is sent: steps enough (of two sizes, the
  // decodes' prefill and their decode steps) for the step cost model to be trained.
  constexpr size_t kWarmupTokens = 16;
  const int32_t max_len = engine.sizes().max_model_len;
  if (spec.long_prompt_len + 1 > max_len)
    throw error("--interference-prompt-len ", spec.long_prompt_len, " leaves no room for its first token within ",
                "max_model_len ", max_len, " (raise --max-model-len)");
  if (spec.decode_input_len + int32_t(kWarmupTokens) > max_len)
    throw error("the interference decodes need ", spec.decode_input_len + int32_t(kWarmupTokens),
                " tokens of context, more than max_model_len ", max_len);
  std::mt19937_64 rng(spec.seed);
  std::uniform_int_distribution<int32_t> token(0, spec.vocab_size - 1);
  const auto prompt = [&](int32_t n) {
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (int32_t& id : ids) id = token(rng);
    return ids;
  };
  std::mutex mutex;
  std::condition_variable changed;
  int32_t started = 0;
  std::vector<std::vector<Clock::time_point>> times(static_cast<size_t>(spec.decodes));
  std::vector<RequestHandle> handles;
  std::vector<std::thread> consumers;
  for (int32_t i = 0; i < spec.decodes; ++i) {
    // As long as the context allows, to outlast the long prompt; aborted once it has its
    // first token.
    SamplingParams params{
        .temperature = 0.0f, .max_tokens = engine.sizes().max_model_len - spec.decode_input_len, .ignore_eos = true};
    handles.push_back(engine.add_request(prompt(spec.decode_input_len), params));
    consumers.emplace_back([&, i, handle = handles.back()]() mutable {
      while (std::optional<RequestOutput> out = handle.next()) {
        const Clock::time_point now = Clock::now();
        std::lock_guard<std::mutex> lock(mutex);
        std::vector<Clock::time_point>& mine = times[size_t(i)];
        const bool warm = mine.size() >= kWarmupTokens;
        for (size_t k = 0; k < out->token_ids.size(); ++k) mine.push_back(now);
        if (!warm && mine.size() >= kWarmupTokens) {
          ++started;
          changed.notify_all();
        }
      }
      // A decode that ended early (an error) must not keep the long prompt waiting.
      std::lock_guard<std::mutex> lock(mutex);
      if (times[size_t(i)].size() < kWarmupTokens) {
        ++started;
        changed.notify_all();
      }
    });
  }
  {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return started == spec.decodes; });
  }
  const Clock::time_point arrived = Clock::now();
  Clock::time_point first_token = arrived;
  // However the long prompt ends, the decodes are aborted and their readers joined.
  const auto stop_decodes = [&] {
    for (const RequestHandle& h : handles) engine.abort(h.request_id());
    for (auto& t : consumers) t.join();
  };
  try {
    RequestHandle long_prompt =
        engine.add_request(prompt(spec.long_prompt_len), SamplingParams{.temperature = 0.0f, .max_tokens = 1});
    while (std::optional<RequestOutput> out = long_prompt.next()) {
      if (!out->token_ids.empty() && first_token == arrived) first_token = Clock::now();
    }
  } catch (...) {
    stop_decodes();
    throw;
  }
  stop_decodes();

  InterferenceResult result;
  result.long_prompt_ttft_s = seconds(first_token - arrived);
  for (const auto& mine : times) {
    for (size_t k = 1; k < mine.size(); ++k) {
      if (mine[k] <= arrived || mine[k] > first_token) continue;
      result.itl_s.push_back(seconds(mine[k] - mine[k - 1]));
      ++result.decode_tokens;
    }
  }
  return result;
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
