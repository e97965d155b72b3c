// Slices of INT4 weights for tensor parallelism: a slice dequantises to exactly the same
// slice of the dequantised whole weight, for output rows and for input columns with
// plain groups (at a boundary, inside one group, across a short last group) and act-order
// groups; splits that would cut a group between ranks, or a byte of two codes, fail
// saying what would work.
#include <gtest/gtest.h>

#include "quant/int4_slice.h"
#include "quant_fixture.h"
#include "test_support.h"

namespace tern {
namespace {

using quant_test::random_int4;
using testing::error_of;
using testing::expect_contains;

// Rows [r0, r1) and columns [c0, c1) of a host F32 matrix.
std::vector<float> block(const Tensor& m, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  std::vector<float> out;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = c0; c < c1; ++c) out.push_back(m.ptr<const float>()[r * m.cols() + c]);
  return out;
}

std::vector<float> all_of(const Tensor& m) { return block(m, 0, m.rows(), 0, m.cols()); }

TEST(Int4Slice, OutputRowsDequantiseToTheSameRows) {
  for (bool act_order : {false, true}) {
    const Int4Weight w = random_int4(24, 64, 16, 3, act_order);
    const Tensor whole = dequantize_int4(w);
    const Int4Weight part = slice_int4_outputs(w, 8, 20);
    validate_int4(part, "slice");
    EXPECT_EQ(part.out_features(), 12);
    EXPECT_EQ(all_of(dequantize_int4(part)), block(whole, 8, 20, 0, 64)) << "act_order " << act_order;
  }
}

TEST(Int4Slice, InputColumnsWithPlainGroups) {
  // 72 inputs in groups of 16: the last group has 8 columns.
  const Int4Weight w = random_int4(8, 72, 16, 5);
  const Tensor whole = dequantize_int4(w);
  struct Case {
    int64_t begin, end, group_size, groups;
  };
  for (const Case& c : {Case{0, 36, 16, 3},    // starts at a boundary, ends mid-group
                        Case{32, 72, 16, 3},   // ends with the short last group
                        Case{48, 56, 8, 1},    // a part of one group from its start
                        Case{20, 28, 8, 1},    // inside one group, not at its start
                        Case{64, 72, 8, 1}}) {  // the short last group alone
    SCOPED_TRACE(std::to_string(c.begin) + ".." + std::to_string(c.end));
    const Int4Weight part = slice_int4_inputs(w, c.begin, c.end, "w");
    validate_int4(part, "slice");
    EXPECT_EQ(part.in_features(), c.end - c.begin);
    EXPECT_EQ(part.group_size, c.group_size);
    EXPECT_EQ(part.num_groups(), c.groups);
    EXPECT_TRUE(part.group_index.empty());
    EXPECT_EQ(all_of(dequantize_int4(part)), block(whole, 0, 8, c.begin, c.end));
  }
}

TEST(Int4Slice, InputColumnsWithActOrderKeepEveryGroup) {
  const Int4Weight w = random_int4(8, 64, 16, 7, /*act_order=*/true);
  const Tensor whole = dequantize_int4(w);
  for (auto [begin, end] : {std::pair{0, 32}, {32, 64}, {10, 30}}) {
    const Int4Weight part = slice_int4_inputs(w, begin, end, "w");
    validate_int4(part, "slice");
    EXPECT_EQ(part.num_groups(), 4) << "a slice's columns may belong to any of the 4 groups";
    EXPECT_EQ(all_of(dequantize_int4(part)), block(whole, 0, 8, begin, end));
  }
}

TEST(Int4Slice, SplitsThatCutAGroupOrACodeByteAreRefused) {
  const Int4Weight w = random_int4(8, 96, 32, 9);
  expect_contains(error_of([&] { slice_int4_inputs(w, 48, 96, "model.layers.0.mlp.down_proj"); }),
                  {"model.layers.0.mlp.down_proj: input columns [48, 96) of 96",
                   "do not start at a boundary of the INT4 groups of 32", "multiple of 32",
                   "a tensor-parallel size that divides 3"});
  expect_contains(error_of([&] { slice_int4_inputs(w, 0, 33, "w"); }), {"split a byte of two 4-bit codes"});
  const Int4Weight act = random_int4(8, 96, 32, 9, /*act_order=*/true);
  expect_contains(error_of([&] { slice_int4_inputs(act, 31, 65, "w"); }), {"split a byte"});
  EXPECT_EQ(int4_input_slice_problem(96, 32, 48, 96).empty(), false);
  EXPECT_EQ(int4_input_slice_problem(96, 0, 48, 96), "") << "act-order: any even split";
}

}  // namespace
}  // namespace tern
