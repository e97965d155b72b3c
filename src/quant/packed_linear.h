// INT4 linear layers as GPTQ and AWQ checkpoints store them, and their conversion to and
// from tern's Int4Weight (quant/int4_weight.h). For a layer of K inputs, N outputs and
// G = ceil(K / group_size) groups; every int32 holds eight 4-bit values, value i in
// bits [4i, 4i + 4):
//
//   GPTQ  qweight [K / 8, N]  I32  packed along K: word (r, n) holds code(n, 8r + i)
//         qzeros  [G, N / 8]  I32  packed along N: word (g, c) holds the zero of column 8c + i,
//                                  minus one in checkpoint_format "gptq" (v1), as is in "gptq_v2"
//         scales  [G, N]      F16
//         g_idx   [K]         I32  group of each input column (act-order); optional otherwise
//   AWQ   qweight [K, N / 8]  I32  packed along N in the order [0, 2, 4, 6, 1, 3, 5, 7]:
//                                  word (k, c) holds code(8c + order[i], k) at position i
//         qzeros  [G, N / 8]  I32  packed like qweight, zero points as is
//         scales  [G, N]      F16
#pragma once

#include <cstdint>
#include <string>

#include "quant/int4_weight.h"
#include "quant/quant_config.h"
#include "tensor/tensor.h"

namespace tern {

// One quantized linear layer's tensors as read from a checkpoint (host views).
struct PackedLinear {
  std::string name;    // module name, e.g. "model.layers.0.self_attn.q_proj"
  std::string source;  // the file it was read from, for errors
  Tensor qweight, qzeros, scales;
  Tensor g_idx;  // empty when the checkpoint has none
};

// Converts a checkpoint's layer of `out_features` x `in_features` into an Int4Weight,
// validating dtypes, shapes, zero points and g_idx first. Errors name the source file,
// the tensor, and what was expected ("<file>: tensor '<name>.qzeros': shape [..] but
// GPTQ expects [..]"). A g_idx equal to k / group_size is dropped (plain groups).
Int4Weight unpack_linear(const PackedLinear& packed, const QuantizationConfig& config, int64_t out_features,
                         int64_t in_features);
Int4Weight unpack_gptq(const PackedLinear& packed, const QuantizationConfig& config, int64_t out_features,
                       int64_t in_features);
Int4Weight unpack_awq(const PackedLinear& packed, const QuantizationConfig& config, int64_t out_features,
                      int64_t in_features);

// The GPTQ tensors of a host weight (name and source left empty); g_idx is always
// written, as AutoGPTQ does. Throws tern::Error if K or N is not a multiple of 8, or a
// zero point does not fit the format (v1: 1..16, v2: 0..15).
PackedLinear pack_gptq(const Int4Weight& weight, GptqFormat format);

// Shared by the unpackers: throws "<source>: tensor '<name>.<suffix>': ..." unless t has
// the dtype and shape given; `layout` explains the expected shape.
void expect_packed_tensor(const PackedLinear& packed, const Tensor& t, const char* suffix, DType dtype,
                          std::initializer_list<int64_t> shape, const char* layout);
// Scales [G, N] of any float dtype, transposed into weight.scales [N, G].
void unpack_scales(const PackedLinear& packed, const Int4Weight& weight);

}  // namespace tern
