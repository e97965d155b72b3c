// The one FP8 (W8A8) weight layout tern keeps in memory. FP8 checkpoints (HF "fp8" and
// compressed-tensors "float-quantized", quant/fp8_checkpoint.h) are converted into it at
// load, `tern quantize --method fp8` produces it (quantize_fp8), the CPU backend
// computes from it and a GPU backend may rearrange it. docs/quantization.md has the
// worked arithmetic.
//
// For a linear layer of N outputs and K inputs:
//   W[n, k] = e4m3(values[n, k]) * weight_scale(n, k)
//   channel scales: scales [N]                             weight_scale(n, k) = scales[n]
//   block scales:   scales [ceil(N / bn), ceil(K / bk)]    weight_scale(n, k) = scales[n / bn, k / bk]
// A per-tensor checkpoint scale becomes a channel scale repeated over the rows (exact), so
// fused projections keep each part's own scale. Before the product the activations are
// quantised to e4m3 too (Fp8Activations), so y = x' W^T with x' the dequantised FP8 input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace tern {

// How a layer's input is quantised. Every scheme gives each token its own result
// (batch invariance): a checkpoint's dynamic per-tensor scheme is computed per token.
enum class Fp8Activations : uint8_t {
  kPerToken,       // scale = max|x_row| / 448 per token
  kPerTokenGroup,  // scale per token and group of `activation_group` columns (block checkpoints)
  kStatic,         // one calibrated input_scale per layer, from the checkpoint
};

struct Fp8Weight {
  Tensor values;               // [N, K] F8E4M3
  Tensor scales;               // F32: [N] (channel) or [ceil(N / bn), ceil(K / bk)] (block)
  int64_t block_rows = 0;      // bn, bk of block scales; 0 for channel scales
  int64_t block_cols = 0;
  Fp8Activations activations = Fp8Activations::kPerToken;
  int64_t activation_group = 0;  // kPerTokenGroup: columns per group
  float input_scale = 0.0f;      // kStatic: x' = e4m3(x / input_scale) * input_scale

  bool empty() const { return values.empty(); }
  bool block_scaled() const { return block_rows > 0; }
  int64_t out_features() const { return values.dim(0); }
  int64_t in_features() const { return values.dim(1); }
};

// Checks a host weight's dtypes and shapes, and that its scales are finite and positive,
// so that dequantising it cannot read out of bounds. `context` starts every error.
void validate_fp8(const Fp8Weight& w, const std::string& context);

// weight_scale(n, k) for a host weight.
float fp8_weight_scale(const Fp8Weight& w, int64_t n, int64_t k);

// Row n of W as F32 (host weights): out[k] = e4m3_to_f32(values[n, k]) * weight_scale(n, k),
// one F32 product per element.
void dequantize_fp8_row(const Fp8Weight& w, int64_t n, float* out);
Tensor dequantize_fp8(const Fp8Weight& w);  // [N, K] F32

// The activation quantisation of one token's K inputs, emulated in F32: out[k] is x[k]
// quantised to e4m3 with the scheme's scale s and multiplied back,
//   s = max(max|x over the row or group|, 1e-12) / 448  (dynamic),  input_scale (static)
//   out[k] = e4m3(clamp(x[k] / s, -448, 448)) * s
// the arithmetic of PyTorch's float8_e4m3fn emulation in tools/quant_reference.py.
void fake_quantize_fp8_activations(const Fp8Weight& w, const float* x, float* out);

// A dense [N, K] weight (any float dtype, host) quantised with one scale per output row
// (block_rows = block_cols = 0) or per block of block_rows x block_cols:
// scale = max(max|W over the row or block|, 1e-12) / 448, values rounded to nearest even,
// dynamic activations (per token; per token and group of block_cols with blocks).
// `tern quantize --method fp8` writes the per-row form.
Fp8Weight quantize_fp8(const Tensor& weight, int64_t block_rows = 0, int64_t block_cols = 0);

// Layers sharing their input stacked along the outputs (fused Q/K/V, gate/up). The parts
// must agree on K, the activation scheme and the block shape; with block scales every part
// but the last must have a multiple of bn rows. Static input scales become their maximum
// (the fused input is quantised once), as vLLM does. `names` label the parts in errors.
Fp8Weight concat_fp8_outputs(const std::vector<Fp8Weight>& parts, const std::vector<std::string>& names);

// Tensor-parallel slices: output rows [begin, end) or input columns [begin, end). With
// block scales both ends must fall on block boundaries (bn for rows, bk for columns), and
// per-token-group activations need column slices on group boundaries; `context` names the
// layer and rank in the error otherwise.
Fp8Weight slice_fp8_outputs(const Fp8Weight& w, int64_t begin, int64_t end, const std::string& context);
Fp8Weight slice_fp8_inputs(const Fp8Weight& w, int64_t begin, int64_t end, const std::string& context);

// The weight with zero rows appended up to `rows` (a tensor-parallel rank's share of a
// vocabulary that does not divide evenly); their scales are 1.
Fp8Weight pad_fp8_outputs(const Fp8Weight& w, int64_t rows);

}  // namespace tern
