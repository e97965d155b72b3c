// The one product loop of every CPU linear (dense, INT4, FP8): each weight row is made in
// F32 once and used for every input row, and every output element is one fixed-order dot
// product, so the formats agree bit for bit on equal F32 weights and stay batch-invariant.
#pragma once

#include <cstdint>
#include <functional>

#include "tensor/tensor.h"

namespace tern::cpu {

// out[i, j] = dot(x[i, :], W[j, :]) + bias[j] for x [m, k] and out [m, n] (F32, host),
// parallel over j; weight_row(j, row) writes W[j, :] into row[0, k). `bias` is empty or
// any float dtype of n elements.
void linear_rows(const float* x, int64_t m, int64_t k, const Tensor& bias, int64_t n, float* out,
                 const std::function<void(int64_t j, float* row)>& weight_row);

}  // namespace tern::cpu
