// Slices of an INT4 weight on the host, for tensor parallelism: a rank keeps some output
// rows of a column-parallel layer (Q/K/V, gate/up) or some input columns of a row-parallel
// one (o_proj, down_proj). Slicing happens before upload, so a GPU never holds the rest.
#pragma once

#include <cstdint>
#include <string>

#include "quant/int4_weight.h"

namespace tern {

// Output rows [begin, end) of a host weight: their codes, scales and zeros; the
// group_index (which depends on the input column only) is shared.
Int4Weight slice_int4_outputs(const Int4Weight& w, int64_t begin, int64_t end);

// Input columns [begin, end) of a host weight, as a weight of end - begin inputs.
//  - Act-order (group_index present): the columns' group_index entries, and the scales
//    and zeros of every group, since a slice's columns may belong to any group.
//  - Plain groups: the scales and zeros of the groups the columns cover. The slice must
//    start at a group boundary (begin a multiple of group_size) or lie inside one group;
//    anything else would split a group between ranks.
// begin and end must be even (two codes per byte). Throws tern::Error starting with
// `context` when the slice is impossible, saying what would make it possible.
Int4Weight slice_int4_inputs(const Int4Weight& w, int64_t begin, int64_t end, const std::string& context);

// Why input columns [begin, end) of a weight of `in_features` inputs in plain groups of
// `group_size` (0: act-order, any grouping) cannot be sliced, or empty when they can.
// Lets a caller check a split before any weight is read.
std::string int4_input_slice_problem(int64_t in_features, int64_t group_size, int64_t begin, int64_t end);

}  // namespace tern
