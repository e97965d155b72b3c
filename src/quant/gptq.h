// GPTQ (Frantar et al., 2022): quantise a linear layer's weight column by column and
// push each column's rounding error onto the columns not yet quantised, weighted by the
// inverse Hessian of the layer's inputs, so that the layer's outputs on calibration data
// change as little as possible. The steps follow AutoGPTQ's fasterquant:
//   H = 2/n * sum of x x^T over the calibration inputs x of the layer      (HessianAccumulator)
//   dead inputs (H[i, i] = 0): H[i, i] = 1 and W[:, i] = 0
//   act-order: columns sorted by decreasing H[i, i]; the groups follow that order (g_idx)
//   H += damp_percent * mean(diag H) * I;  U = upper Cholesky factor of H^-1
//   for each column i (in blocks of block_size, the rest updated once per block):
//     a group starts: its grid comes from the current (error-updated) values
//     q = nearest grid point of w_i;  err = (w_i - q) / U[i, i];  w_j -= err * U[i, j] for j > i
// Rows are independent given U, so they are quantised in parallel.
#pragma once

#include <cstdint>
#include <vector>

#include "quant/int4_weight.h"
#include "quant/rtn.h"
#include "tensor/tensor.h"

namespace tern {

// Accumulates H = 2/n * X^T X over batches of inputs of one layer, n being the number of
// input rows (tokens) seen. Memory: K * K floats.
class HessianAccumulator {
 public:
  explicit HessianAccumulator(int64_t in_features);

  // x: [T, K] host F32 activations, one row per token.
  void add(const Tensor& x);

  int64_t in_features() const { return k_; }
  int64_t num_samples() const { return num_samples_; }
  // H[i, j] (row-major, symmetric), scaled by 2 / num_samples.
  std::vector<double> hessian() const;

 private:
  int64_t k_;
  int64_t num_samples_ = 0;
  std::vector<float> sum_;  // sum of x x^T, lower triangle filled
};

struct GptqOptions {
  QuantizeOptions quant;
  bool act_order = false;      // desc_act
  double damp_percent = 0.01;  // of the mean diagonal
  int64_t block_size = 128;    // columns per lazy-update block
};

// Quantises weight [N, K] (host, any float dtype) against the Hessian of its inputs.
// When H is not positive definite even after dampening, the dampening is raised
// tenfold (up to three times, with a warning) before giving up with tern::Error.
Int4Weight quantize_gptq(const Tensor& weight, const HessianAccumulator& hessian, const GptqOptions& options);

}  // namespace tern
