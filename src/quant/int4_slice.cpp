#include "quant/int4_slice.h"

#include <algorithm>

#include "base/error.h"
#include "tensor/host_slices.h"

namespace tern {

Int4Weight slice_int4_outputs(const Int4Weight& w, int64_t begin, int64_t end) {
  TERN_CHECK(0 <= begin && begin < end && end <= w.out_features(), "output rows [", begin, ", ", end, ") of ",
             w.out_features());
  Int4Weight out = w;
  out.codes = w.codes.slice_rows(begin, end);
  out.scales = w.scales.slice_rows(begin, end);
  out.zeros = w.zeros.slice_rows(begin, end);
  return out;
}

std::string int4_input_slice_problem(int64_t in_features, int64_t group_size, int64_t begin, int64_t end) {
  if (begin % 2 != 0 || end % 2 != 0)
    return detail::concat("input columns [", begin, ", ", end, ") of ", in_features,
                          " split a byte of two 4-bit codes (each rank's share must be even)");
  if (group_size <= 0) return "";  // act-order: any columns, every group kept
  const bool at_boundary = begin % group_size == 0;
  const bool inside_one_group = begin / group_size == (end - 1) / group_size;
  if (at_boundary || inside_one_group) return "";
  return detail::concat("input columns [", begin, ", ", end, ") of ", in_features,
                        " do not start at a boundary of the INT4 groups of ", group_size,
                        " columns, so a group would be split between ranks: each rank's share of the ", in_features,
                        " inputs must be a multiple of ", group_size, " (choose a tensor-parallel size that divides ",
                        in_features / group_size, ")");
}

Int4Weight slice_int4_inputs(const Int4Weight& w, int64_t begin, int64_t end, const std::string& context) {
  const int64_t k = w.in_features();
  TERN_CHECK(0 <= begin && begin < end && end <= k, "input columns [", begin, ", ", end, ") of ", k);
  const bool act_order = !w.group_index.empty();
  const std::string problem = int4_input_slice_problem(k, act_order ? 0 : w.group_size, begin, end);
  if (!problem.empty()) throw error(context, ": ", problem);
  Int4Weight out;
  out.codes = copy_columns(w.codes, begin / 2, end / 2);
  if (act_order) {
    out.group_size = w.group_size;
    out.scales = w.scales;
    out.zeros = w.zeros;
    out.group_index = w.group_index.slice_rows(begin, end);
    return out;
  }
  const int64_t first_group = begin / w.group_size;
  const int64_t last_group = (end - 1) / w.group_size;  // inclusive
  // A slice inside one group (possible only when it starts mid-group) is that one group.
  out.group_size = begin % w.group_size == 0 ? std::min(w.group_size, end - begin) : end - begin;
  out.scales = copy_columns(w.scales, first_group, last_group + 1);
  out.zeros = copy_columns(w.zeros, first_group, last_group + 1);
  return out;
}

}  // namespace tern
