// How long an engine step takes, learned from the steps themselves, so the scheduler can
// size each step's prefill chunk to keep running decodes at a target inter-token latency
// (--target-itl-ms; Sarathi-Serve's stall-free batching). The model is linear in two
// features of a step:
//   ms = a + b * tokens + c * attention
//   tokens    = tokens computed (prefill chunks, decodes, drafts)
//   attention = sum over sequences of new tokens x the context each attends to, in
//               millions of (query, key) pairs: a chunk of n tokens after p cached ones
//               adds n * (p + (n + 1) / 2)
// fitted by least squares with exponential forgetting (recent steps weigh most, so the
// fit follows the GPU's regime: a decode batch is bound by weight reads, a large chunk by
// compute).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

namespace tern {

struct StepFeatures {
  double tokens = 0;
  double attention = 0;  // millions of (query, key) pairs

  // Adds a sequence's n new tokens after p computed ones.
  void add_chunk(int64_t computed, int64_t num_new);
};

class StepCostModel {
 public:
  // Weight of a step seen k steps ago: forgetting^k.
  explicit StepCostModel(double forgetting = 0.98);

  void observe(const StepFeatures& step, double milliseconds);
  // Whether a fit could be trusted yet: at least 8 (decayed) steps whose sizes differed,
  // giving a positive cost per token. Later runs of equal steps keep the last such fit.
  bool ready() const;
  // Predicted milliseconds of a step (ready() only).
  double predict(const StepFeatures& step) const;
  // The most new tokens (up to `limit`) a chunk after `computed` cached tokens may add to
  // a step that already holds `base`, for the step to stay within `target_ms`
  // (ready() only); 0 when even the base is predicted over the target.
  int64_t max_chunk(const StepFeatures& base, int64_t computed, double target_ms, int64_t limit) const;

  // The fitted coefficients (a, b, c).
  std::array<double, 3> coefficients() const;

 private:
  static constexpr int kN = 3;
  double forgetting_;
  double xtx_[kN][kN] = {};  // decayed sums of x x^T and x y, x = (1, tokens, attention)
  double xty_[kN] = {};
  double weight_ = 0;        // decayed number of steps seen
  std::array<double, 3> coef_ = {};
  bool fitted_ = false;
};

}  // namespace tern
