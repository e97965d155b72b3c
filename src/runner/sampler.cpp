#include "runner/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "backend/logit_adjustment.h"
#include "base/error.h"

namespace tern {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// NaN and +inf are numerical errors; -inf is one too unless the sequence's token mask
// (structured output) or its banned tokens put it there.
bool usable_logit(float v, const StepSequence& seq) {
  return std::isfinite(v) || (v == kNegInf && (seq.mask_row >= 0 || !seq.banned_token_ids.empty()));
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
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

// Draws from softmax(logits / T) over candidates sorted by logit (highest first),
// restricted by top-p and min-p; top-k has already cut the list.
int32_t draw_sorted(std::span<const int32_t> ids, std::span<const float> logits, const SamplingParams& p, double u,
                    std::vector<float>& probs) {
  const float max_scaled = logits[0] / p.temperature;
  probs.resize(ids.size());
  double total = 0.0;
  for (size_t i = 0; i < ids.size(); ++i) {
    probs[i] = logits[i] == kNegInf ? 0.0f : float(std::exp(double(logits[i] / p.temperature) - double(max_scaled)));
    total += probs[i];
  }
  size_t n = ids.size();
  if (p.top_p < 1.0f) {
    double cum = 0.0;
    for (size_t i = 0; i < n; ++i) {
      cum += probs[i] / total;
      if (cum >= double(p.top_p)) {
        n = i + 1;
        break;
      }
    }
  }
  if (p.min_p > 0.0f) {
    const float threshold = p.min_p * probs[0];  // relative to the most likely token
    size_t m = 1;
    while (m < n && probs[m] >= threshold) ++m;
    n = m;
  }
  double kept = 0.0;
  for (size_t i = 0; i < n; ++i) kept += probs[i];
  double target = u * kept, cum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    cum += probs[i];
    if (target < cum) return ids[i];
  }
  return ids[n - 1];
}

bool by_logit_then_id(const std::vector<float>& logits, int32_t a, int32_t b) {
  return logits[size_t(a)] > logits[size_t(b)] || (logits[size_t(a)] == logits[size_t(b)] && a < b);
}

// The `keep` most likely token ids of `logits`, in order, into s.order and their logits
// into s.sorted.
void sort_top(const std::vector<float>& logits, int32_t keep, SamplerScratch& s) {
  s.order.resize(logits.size());
  std::iota(s.order.begin(), s.order.end(), 0);
  auto before = [&](int32_t a, int32_t b) { return by_logit_then_id(logits, a, b); };
  std::nth_element(s.order.begin(), s.order.begin() + (keep - 1), s.order.end(), before);
  std::sort(s.order.begin(), s.order.begin() + keep, before);
  s.order.resize(size_t(keep));
  s.sorted.resize(size_t(keep));
  for (int32_t i = 0; i < keep; ++i) s.sorted[size_t(i)] = logits[size_t(s.order[size_t(i)])];
}

// The position, in the by_logit_then_id order of `ids`, of the first token at which the
// running sum of `weight` reaches `target` (>= when inclusive, else >); when rounding
// leaves it short, the last token of positive weight. Rearranges ids so that ids[0,
// position] are the tokens up to that position (in any order). Sorting a 152K-token row
// takes 25 ms; this buckets the logits instead (a few linear passes) and sorts only the
// bucket where the sum crosses the target.
size_t first_reaching(std::span<int32_t> ids, const std::vector<float>& logits, const std::vector<float>& weight,
                      double target, bool inclusive, std::vector<double>& mass) {
  constexpr int kBuckets = 1024;
  auto reached = [&](double sum) { return inclusive ? sum >= target : sum > target; };
  size_t lo = 0, hi = ids.size();  // the crossing lies in ids[lo, hi); everything before precedes it
  double base = 0.0;               // the weight of ids[0, lo)
  mass.resize(kBuckets + 1);
  while (hi - lo > 64) {
    float top = kNegInf, bottom = std::numeric_limits<float>::infinity();
    for (size_t i = lo; i < hi; ++i) {
      const float v = logits[size_t(ids[i])];
      if (v == kNegInf) continue;
      top = std::max(top, v);
      bottom = std::min(bottom, v);
    }
    const float scale = float(kBuckets) / (top - bottom);
    if (!(top > bottom) || !std::isfinite(scale)) break;  // one value (ties go by id): sort what is left
    // Bucket 0 holds the highest logits; -inf (weight 0) goes last. Monotone in the logit,
    // so every token of a bucket precedes every token of the next.
    auto bucket = [&](int32_t id) {
      const float v = logits[size_t(id)];
      return v == kNegInf ? kBuckets : std::min(kBuckets - 1, int((top - v) * scale));
    };
    std::fill(mass.begin(), mass.end(), 0.0);
    for (size_t i = lo; i < hi; ++i) mass[size_t(bucket(ids[i]))] += weight[size_t(ids[i])];
    int crossing = -1, last_positive = 0;
    double sum = base;
    for (int b = 0; b <= kBuckets && crossing < 0; ++b) {
      if (mass[size_t(b)] > 0.0) last_positive = b;
      if (reached(sum + mass[size_t(b)]))
        crossing = b;
      else
        sum += mass[size_t(b)];
    }
    if (crossing < 0) {  // short by rounding: settle in the last bucket that has weight
      crossing = last_positive;
      sum = base;
      for (int b = 0; b < crossing; ++b) sum += mass[size_t(b)];
    }
    auto first = ids.begin();
    auto mid =
        std::partition(first + int64_t(lo), first + int64_t(hi), [&](int32_t id) { return bucket(id) < crossing; });
    auto end = std::partition(mid, first + int64_t(hi), [&](int32_t id) { return bucket(id) == crossing; });
    lo = size_t(mid - first);
    hi = size_t(end - first);
    base = sum;
  }
  std::sort(ids.begin() + int64_t(lo), ids.begin() + int64_t(hi),
            [&](int32_t a, int32_t b) { return by_logit_then_id(logits, a, b); });
  size_t last_positive = lo;
  for (size_t i = lo; i < hi; ++i) {
    if (weight[size_t(ids[i])] > 0.0f) last_positive = i;
    base += weight[size_t(ids[i])];
    if (reached(base)) return i;
  }
  return last_positive;
}

// draw_sorted() over the whole vocabulary without sorting it: the same token, up to the
// order in which the probabilities are summed.
int32_t draw_full_row(const std::vector<float>& logits, float max_logit, const SamplingParams& p, double u,
                      SamplerScratch& s) {
  const float max_scaled = max_logit / p.temperature;
  s.probs.resize(logits.size());
  double total = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    s.probs[i] = logits[i] == kNegInf ? 0.0f : float(std::exp(double(logits[i] / p.temperature) - double(max_scaled)));
    total += s.probs[i];
  }
  s.order.resize(logits.size());
  std::iota(s.order.begin(), s.order.end(), 0);
  std::span<int32_t> kept(s.order);
  if (p.top_p < 1.0f)
    kept = kept.first(first_reaching(kept, logits, s.probs, double(p.top_p) * total, true, s.bucket_mass) + 1);
  if (p.min_p > 0.0f) {
    // The most likely token has probability exp(0) = 1, so the threshold is min_p itself;
    // probabilities fall along the order, so the tokens above it are a prefix of it.
    auto end = std::partition(kept.begin(), kept.end(), [&](int32_t id) { return s.probs[size_t(id)] >= p.min_p; });
    kept = kept.first(std::max<size_t>(1, size_t(end - kept.begin())));
  }
  double mass = 0.0;
  for (int32_t id : kept) mass += s.probs[size_t(id)];
  return kept[first_reaching(kept, logits, s.probs, u * mass, false, s.bucket_mass)];
}

// What a row that cannot be sampled held, for the log: where a NaN / +inf / unexplained
// -inf first is, and how many of each.
std::string describe_bad_row(std::span<const float> logits, const StepSequence& seq) {
  size_t nan = 0, pos_inf = 0, neg_inf = 0, first_bad = logits.size();
  for (size_t i = 0; i < logits.size(); ++i) {
    const float v = logits[i];
    nan += std::isnan(v);
    pos_inf += v == -kNegInf;
    neg_inf += v == kNegInf;
    if (first_bad == logits.size() && !usable_logit(v, seq)) first_bad = i;
  }
  std::string text = std::to_string(nan) + " NaN, " + std::to_string(pos_inf) + " +inf, " + std::to_string(neg_inf) +
                     " -inf of " + std::to_string(logits.size()) + " logits";
  if (first_bad < logits.size())
    text += "; first at token " + std::to_string(first_bad) + ": " + std::to_string(logits[first_bad]);
  if (seq.mask_row >= 0) text += "; the row has a token mask";
  if (!seq.banned_token_ids.empty()) text += "; " + std::to_string(seq.banned_token_ids.size()) + " banned tokens";
  return text;
}

// Checks the row (a numerical error in `out` when it holds NaN, +inf or nothing that can
// be sampled) and copies it into s.logits.
bool take_row(std::span<const float> logits, const StepSequence& seq, SamplerScratch& s, SampledToken& out) {
  TERN_CHECK(seq.params != nullptr, "sequence ", seq.seq_id, " has no sampling params");
  out.seq_id = seq.seq_id;
  bool usable = true, any_allowed = false;
  for (float v : logits) {
    usable = usable && usable_logit(v, seq);
    any_allowed = any_allowed || v != kNegInf;
  }
  if (!usable || !any_allowed) {  // NaN / +inf, or a mask that allows nothing
    out.numerical_error = true;
    out.error = describe_bad_row(logits, seq);
    return false;
  }
  s.logits.assign(logits.begin(), logits.end());
  return true;
}

// Samples from s.logits, which carry the sequence's adjustments.
SampledToken sample_taken(const StepSequence& seq, SamplerScratch& s, SampledToken out) {
  const SamplingParams& p = *seq.params;
  const int32_t vocab = int32_t(s.logits.size());
  const int32_t max_id = argmax(s.logits);
  const double lse = log_sum_exp(s.logits, s.logits[size_t(max_id)]);
  if (p.greedy()) {
    out.token_id = max_id;
  } else {
    const double u = uniform_draw(seq.seed, seq.output_token_ids.size());
    if (p.top_k > 0 && p.top_k < vocab) {
      sort_top(s.logits, p.top_k, s);
      out.token_id = draw_sorted(s.order, s.sorted, p, u, s.probs);
    } else {
      out.token_id = draw_full_row(s.logits, s.logits[size_t(max_id)], p, u, s);
    }
  }
  out.logprob = float(double(s.logits[size_t(out.token_id)]) - lse);
  if (p.logprobs > 0) {
    sort_top(s.logits, std::min(p.logprobs, vocab), s);
    for (size_t i = 0; i < s.order.size(); ++i)
      if (s.sorted[i] != kNegInf) out.top_logprobs.emplace_back(s.order[i], float(double(s.sorted[i]) - lse));
  }
  return out;
}

}  // namespace

double uniform_draw(uint64_t seed, uint64_t index) {
  uint64_t bits = splitmix64(splitmix64(seed) ^ (index * 0xd1b54a32d192ed03ull));
  return double(bits >> 11) * 0x1.0p-53;
}

SampledToken sample_token(std::span<const float> logits, const StepSequence& seq, SamplerScratch& s) {
  SampledToken out;
  if (!take_row(logits, seq, s, out)) return out;
  s.adjustments.clear();
  s.adjuster.collect(seq, int32_t(s.logits.size()), s.adjustments);
  for (const LogitAdjustment& a : s.adjustments)
    s.logits[size_t(a.token)] = adjust_logit(s.logits[size_t(a.token)], a.bias, a.repetition, a.subtract);
  return sample_taken(seq, s, out);
}

SampledToken sample_adjusted_row(std::span<const float> logits, const StepSequence& seq, SamplerScratch& s) {
  SampledToken out;
  if (!take_row(logits, seq, s, out)) return out;
  return sample_taken(seq, s, out);
}

TokenLogprob score_position(const float* logits, size_t vocab, int32_t target, int32_t alternatives,
                            SamplerScratch& s) {
  s.logits.assign(logits, logits + vocab);
  const double lse = log_sum_exp(s.logits, s.logits[size_t(argmax(s.logits))]);
  TokenLogprob out;
  out.token_id = target;
  out.logprob = float(double(s.logits[size_t(target)]) - lse);
  out.rank = 1;
  for (float v : s.logits) out.rank += v > s.logits[size_t(target)];
  if (alternatives > 0) {
    sort_top(s.logits, std::min<int32_t>(alternatives, int32_t(vocab)), s);
    for (size_t i = 0; i < s.order.size(); ++i)
      out.top_logprobs.emplace_back(s.order[i], float(double(s.sorted[i]) - lse));
  }
  return out;
}

bool samples_from_top(const StepSequence& seq, int32_t k) {
  const SamplingParams& p = *seq.params;
  return p.logprobs <= k && (p.greedy() || (p.top_k > 0 && p.top_k <= k));
}

SampledToken sample_from_top(const TopCandidates& top, const StepSequence& seq) {
  const SamplingParams& p = *seq.params;
  SampledToken out;
  out.seq_id = seq.seq_id;
  bool finite = std::isfinite(top.log_sum_exp) && !top.logits.empty() && top.logits[0] != kNegInf;
  for (float v : top.logits) finite = finite && usable_logit(v, seq);
  if (!finite) {
    out.numerical_error = true;
    out.error = "top-" + std::to_string(top.logits.size()) + " candidates: log-sum-exp " +
                std::to_string(top.log_sum_exp) + "; " + describe_bad_row(top.logits, seq);
    return out;
  }
  size_t chosen = 0;
  if (!p.greedy()) {
    thread_local std::vector<float> probs;
    const size_t keep = std::min(top.ids.size(), size_t(p.top_k));
    int32_t id = draw_sorted(top.ids.first(keep), top.logits.first(keep), p,
                             uniform_draw(seq.seed, seq.output_token_ids.size()), probs);
    while (top.ids[chosen] != id) ++chosen;
  }
  out.token_id = top.ids[chosen];
  out.logprob = top.logits[chosen] - top.log_sum_exp;
  for (int32_t i = 0; i < p.logprobs && size_t(i) < top.ids.size(); ++i)
    if (top.logits[size_t(i)] != kNegInf)
      out.top_logprobs.emplace_back(top.ids[size_t(i)], top.logits[size_t(i)] - top.log_sum_exp);
  return out;
}

}  // namespace tern
