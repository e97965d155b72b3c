#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "base/error.h"

namespace tern {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void apply_penalties(std::vector<float>& logits, const StepSequence& seq, SamplerScratch& s) {
  const SamplingParams& p = *seq.params;
  const int32_t vocab = int32_t(logits.size());
  for (int32_t id : seq.banned_token_ids)
    if (id >= 0 && id < vocab) logits[id] = kNegInf;
  if (p.repetition_penalty != 1.0f) {
    auto penalise = [&](int32_t id) {
      if (id < 0 || id >= vocab || s.counts[id] == -1) return;
      s.counts[id] = -1;  // each distinct token once
      float& l = logits[id];
      l = l > 0 ? l / p.repetition_penalty : l * p.repetition_penalty;
    };
    s.counts.assign(size_t(vocab), 0);
    for (int32_t id : seq.prompt_token_ids) penalise(id);
    for (int32_t id : seq.output_token_ids) penalise(id);
  }
  if (p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f) {
    s.counts.assign(size_t(vocab), 0);
    for (int32_t id : seq.output_token_ids)
      if (id >= 0 && id < vocab) ++s.counts[id];
    for (int32_t id : seq.output_token_ids) {
      if (id < 0 || id >= vocab || s.counts[id] == 0) continue;
      logits[id] -= float(s.counts[id]) * p.frequency_penalty + p.presence_penalty;
      s.counts[id] = 0;
    }
  }
}

// log(sum(exp(x))) with the max subtracted first.
double log_sum_exp(const std::vector<float>& x, float max_value) {
  double sum = 0.0;
  for (float v : x)
    if (v != kNegInf) sum += std::exp(double(v) - double(max_value));
  return double(max_value) + std::log(sum);
}

int32_t argmax(const std::vector<float>& x) {
  return int32_t(std::max_element(x.begin(), x.end()) - x.begin());  // first maximum on ties
}

// Draws from softmax(logits / T) restricted by top-k, top-p and min-p.
int32_t draw(const std::vector<float>& logits, const SamplingParams& p, double u, SamplerScratch& s) {
  const int32_t vocab = int32_t(logits.size());
  s.order.resize(size_t(vocab));
  std::iota(s.order.begin(), s.order.end(), 0);
  int32_t keep = vocab;
  if (p.top_k > 0 && p.top_k < vocab) keep = p.top_k;
  auto by_logit = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  // Candidates sorted by probability; only the top `keep` need ordering.
  std::partial_sort(s.order.begin(), s.order.begin() + keep, s.order.end(), by_logit);
  s.order.resize(size_t(keep));
  const float max_scaled = logits[s.order[0]] / p.temperature;
  s.probs.resize(s.order.size());
  double total = 0.0;
  for (size_t i = 0; i < s.order.size(); ++i) {
    float l = logits[s.order[i]];
    s.probs[i] = l == kNegInf ? 0.0f : float(std::exp(double(l / p.temperature) - double(max_scaled)));
    total += s.probs[i];
  }
  size_t n = s.order.size();
  if (p.top_p < 1.0f) {
    double cum = 0.0;
    for (size_t i = 0; i < n; ++i) {
      cum += s.probs[i] / total;
      if (cum >= double(p.top_p)) {
        n = i + 1;
        break;
      }
    }
  }
  if (p.min_p > 0.0f) {
    const float threshold = p.min_p * s.probs[0];  // relative to the most likely token
    size_t m = 1;
    while (m < n && s.probs[m] >= threshold) ++m;
    n = m;
  }
  double kept = 0.0;
  for (size_t i = 0; i < n; ++i) kept += s.probs[i];
  double target = u * kept, cum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    cum += s.probs[i];
    if (target < cum) return s.order[i];
  }
  return s.order[n - 1];
}

}  // namespace

double uniform_draw(uint64_t seed, uint64_t index) {
  uint64_t bits = splitmix64(splitmix64(seed) ^ (index * 0xd1b54a32d192ed03ull));
  return double(bits >> 11) * 0x1.0p-53;
}

SampledToken sample_token(std::span<const float> logits, const StepSequence& seq, SamplerScratch& s) {
  TERN_CHECK(seq.params != nullptr, "sequence ", seq.seq_id, " has no sampling params");
  const SamplingParams& p = *seq.params;
  SampledToken out;
  out.seq_id = seq.seq_id;
  for (float v : logits) {
    if (!std::isfinite(v)) {
      out.numerical_error = true;
      return out;
    }
  }
  s.logits.assign(logits.begin(), logits.end());
  apply_penalties(s.logits, seq, s);

  out.token_id = p.greedy() ? argmax(s.logits)
                            : draw(s.logits, p, uniform_draw(seq.seed, seq.output_token_ids.size()), s);
  const float max_logit = s.logits[size_t(argmax(s.logits))];
  const double lse = log_sum_exp(s.logits, max_logit);
  out.logprob = float(double(s.logits[size_t(out.token_id)]) - lse);
  if (p.logprobs > 0) {
    const int32_t n = std::min<int32_t>(p.logprobs, int32_t(s.logits.size()));
    s.order.resize(s.logits.size());
    std::iota(s.order.begin(), s.order.end(), 0);
    std::partial_sort(s.order.begin(), s.order.begin() + n, s.order.end(), [&](int32_t a, int32_t b) {
      return s.logits[a] > s.logits[b] || (s.logits[a] == s.logits[b] && a < b);
    });
    for (int32_t i = 0; i < n; ++i)
      out.top_logprobs.emplace_back(s.order[i], float(double(s.logits[s.order[i]]) - lse));
  }
  return out;
}

}  // namespace tern
