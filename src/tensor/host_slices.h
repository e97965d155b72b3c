// Copies of parts of a host tensor's 2-D view (Tensor::rows x Tensor::cols), for cutting
// weights into tensor-parallel shards. Rows of a row-major tensor need no copy
// (Tensor::slice_rows); these are the cases that do.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace tern {

// Columns [begin, end) of every row, as a new host tensor [rows, end - begin].
Tensor copy_columns(const Tensor& host, int64_t begin, int64_t end);

// Rows [begin, end) as a new host tensor of `rows` >= end - begin rows (1-D: elements),
// the rows past end - begin zeroed.
Tensor copy_rows_padded(const Tensor& host, int64_t begin, int64_t end, int64_t rows);

}  // namespace tern
