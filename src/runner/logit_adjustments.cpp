#include "runner/logit_adjustments.h"

#include <limits>

namespace tern {

bool has_logit_adjustments(const StepSequence& seq) {
  const SamplingParams& p = *seq.params;
  return p.repetition_penalty != 1.0f || p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f ||
         !p.logit_bias.empty() || !seq.banned_token_ids.empty();
}

void LogitAdjuster::collect(const StepSequence& seq, int32_t vocab, std::vector<LogitAdjustment>& out) {
  const SamplingParams& p = *seq.params;
  if (slot_.size() != size_t(vocab)) slot_.assign(size_t(vocab), -1);
  const size_t first = out.size();
  auto entry = [&](int32_t id) -> LogitAdjustment& {
    int32_t& slot = slot_[size_t(id)];
    if (slot < 0) {
      slot = int32_t(out.size() - first);
      out.push_back({.token = id});
    }
    return out[first + size_t(slot)];
  };
  auto in_vocab = [&](int32_t id) { return id >= 0 && id < vocab; };
  for (const auto& [id, bias] : p.logit_bias)
    if (in_vocab(id)) entry(id).bias += bias;
  for (int32_t id : seq.banned_token_ids)
    if (in_vocab(id)) entry(id).bias = -std::numeric_limits<float>::infinity();
  if (p.repetition_penalty != 1.0f) {
    for (int32_t id : seq.prompt_token_ids)
      if (in_vocab(id)) entry(id).repetition = p.repetition_penalty;
    for (int32_t id : seq.output_token_ids)
      if (in_vocab(id)) entry(id).repetition = p.repetition_penalty;
  }
  if (p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f) {
    // subtract holds the count until every output token is seen.
    for (int32_t id : seq.output_token_ids)
      if (in_vocab(id)) entry(id).subtract += 1.0f;
    for (size_t i = first; i < out.size(); ++i)
      if (out[i].subtract > 0.0f) out[i].subtract = out[i].subtract * p.frequency_penalty + p.presence_penalty;
  }
  for (size_t i = first; i < out.size(); ++i) slot_[size_t(out[i].token)] = -1;
}

}  // namespace tern
