// The one INT4 weight layout tern keeps in memory. GPTQ (v1 and v2) and AWQ checkpoints
// are converted into it when they are loaded (quant/gptq_packing.h, quant/awq_packing.h),
// tern's own quantizers produce it (quant/rtn.h, quant/gptq.h), the CPU backend computes
// from it, and a GPU backend repacks it into its kernel's layout. docs/quantization.md
// describes it with a worked example.
//
// For a linear layer of N output and K input features:
//   W[n, k] = scales[n, g(k)] * (code(n, k) - zeros[n, g(k)])
//   g(k)    = group_index[k] when present, else k / group_size
// where code(n, k) in [0, 15] is the low nibble of codes[n, k / 2] for even k and the
// high nibble for odd k. Groups come from GPTQ's act-order (desc_act) when group_index
// is present: each group then holds columns spread over the row, and num_groups may exceed
// ceil(K / group_size): a tensor-parallel slice of an act-order weight's input columns
// keeps the scales of every group of the whole row (quant/int4_slice.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace tern {

inline constexpr int kInt4MaxCode = 15;
// GPTQ v1 checkpoints store zero - 1 in 4 bits, so their zero points reach 16.
inline constexpr int kInt4MaxZero = 16;

// How an Int4Weight's tensors are arranged. Every loader and quantizer produces kRowMajor
// (the layout described above, on the host); Backend::upload_int4 may convert it into a
// kernel's layout on the device. kMmaTiles is the CUDA backend's tensor-core layout,
// documented in backend/cuda/int4_tiles.h: there `codes` holds the same bytes shuffled
// into tiles, `scales` holds one I32 word per (row, group) with the BF16 scale and the zero
// point, `zeros` is empty and `group_index` is the act-order column permutation.
enum class Int4Layout : uint8_t { kRowMajor, kMmaTiles };

struct Int4Weight {
  Tensor codes;            // [N, K / 2] U8, two 4-bit codes per byte, even k in the low nibble
  Tensor scales;           // [N, num_groups] F32; num_groups = ceil(K / group_size) without group_index
  Tensor zeros;            // [N, num_groups] U8, each in [0, kInt4MaxZero]
  Tensor group_index;      // [K] I32, each in [0, num_groups); empty: g(k) = k / group_size
  int64_t group_size = 0;  // input columns per group; K when the whole row is one group.
                           // With group_index: the checkpoint's group size (may exceed K)
  Int4Layout layout = Int4Layout::kRowMajor;

  bool empty() const { return codes.empty(); }
  int64_t out_features() const { return codes.dim(0); }
  int64_t in_features() const { return 2 * codes.dim(1); }
  int64_t num_groups() const { return scales.dim(1); }
};

// Groups of K columns of `group_size` each (the last one may be shorter).
inline int64_t int4_num_groups(int64_t in_features, int64_t group_size) {
  return (in_features + group_size - 1) / group_size;
}

// New host tensors for an N x K weight (uninitialised codes, scales and zeros; no
// group_index). Throws tern::Error unless K is even and 1 <= group_size <= K.
Int4Weight make_host_int4(int64_t out_features, int64_t in_features, int64_t group_size);

// Reads and writes code(n, k) of a host weight.
inline int int4_code(const Int4Weight& w, int64_t n, int64_t k) {
  const uint8_t byte = w.codes.ptr<const uint8_t>()[n * w.codes.dim(1) + k / 2];
  return (k & 1) ? byte >> 4 : byte & 0xF;
}
void set_int4_code(const Int4Weight& w, int64_t n, int64_t k, int code);

// Checks a host weight's dtypes, shapes and value ranges (zeros, group_index) so that
// dequantising it cannot read out of bounds. `context` starts every error message.
void validate_int4(const Int4Weight& w, const std::string& context);

// Row n of W as F32: out[k] = W[n, k] for k in [0, K). Host weights only. Each element is
// one F32 product scale * float(code - zero), so every consumer that uses this function
// sees bit-identical weights.
void dequantize_int4_row(const Int4Weight& w, int64_t n, float* out);

// All of W as a new host F32 tensor [N, K].
Tensor dequantize_int4(const Int4Weight& w);

// The weights of several layers that share their input, stacked along the output
// dimension (fused Q/K/V, gate/up). All parts must have the same K, group size and
// group_index (act-order permutations included); `names` label the parts in the error.
Int4Weight concat_int4_outputs(const std::vector<Int4Weight>& parts, const std::vector<std::string>& names);

}  // namespace tern
