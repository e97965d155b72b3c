// FP8 e4m3 arithmetic and formats without a model: the e4m3 conversions against the
// format's definition, tern's quantizer, the activation emulation, the CPU reference
// linear, fused and tensor-parallel weights, the two quantization_config formats and the
// checkpoint tensors they name, with errors that name the field or tensor at fault.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "backend/backend.h"
#include "base/error.h"
#include "quant/fp8_checkpoint.h"
#include "quant/fp8_weight.h"
#include "quant/quant_config.h"
#include "tensor/convert.h"
#include "tensor/dtype.h"

namespace tern {
namespace {

using nlohmann::json;

// Every e4m3 value as the OCP definition gives it: (-1)^s * 2^(e-7) * (1 + m/8), or
// 2^-6 * m/8 when e == 0; 0x7F and 0xFF are NaN.
double e4m3_by_definition(int v) {
  const int s = v >> 7, e = (v >> 3) & 0xF, m = v & 7;
  const double mag = e == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, e - 7);
  return s ? -mag : mag;
}

Tensor random_matrix(int64_t rows, int64_t cols, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  Tensor t = host_tensor(DType::kF32, {rows, cols});
  for (int64_t i = 0; i < t.numel(); ++i) t.ptr<float>()[i] = d(rng);
  return t;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(E4m3, DecodesEveryCodeAsTheFormatDefines) {
  for (int v = 0; v < 256; ++v) {
    if ((v & 0x7F) == 0x7F) {
      EXPECT_TRUE(std::isnan(e4m3_to_f32(uint8_t(v)))) << v;
      continue;
    }
    EXPECT_EQ(double(e4m3_to_f32(uint8_t(v))), e4m3_by_definition(v)) << v;
  }
  EXPECT_EQ(e4m3_to_f32(0x7E), 448.0f);
  EXPECT_EQ(e4m3_to_f32(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(e4m3_to_f32(0x38), 1.0f);
}

TEST(E4m3, EncodingRoundsToNearestEvenAndSaturates) {
  for (int v = 0; v < 256; ++v) {
    if ((v & 0x7F) == 0x7F) continue;
    const float x = e4m3_to_f32(uint8_t(v));
    // Every value encodes to itself (zero keeps its sign).
    EXPECT_EQ(f32_to_e4m3(x), uint8_t(v)) << v;
    // Halfway to the next code up rounds to whichever of the two has an even mantissa.
    if ((v & 0x7F) < 0x7E) {
      const float up = e4m3_to_f32(uint8_t(v + 1));
      const float mid = (x + up) / 2;
      const uint8_t even = (v & 1) ? uint8_t(v + 1) : uint8_t(v);
      EXPECT_EQ(f32_to_e4m3(mid), even) << v;
      EXPECT_EQ(f32_to_e4m3(std::nextafter(mid, x)), uint8_t(v)) << v;
      EXPECT_EQ(f32_to_e4m3(std::nextafter(mid, up)), uint8_t(v + 1)) << v;
    }
  }
  EXPECT_EQ(f32_to_e4m3(1e6f), 0x7E);
  EXPECT_EQ(f32_to_e4m3(-1e6f), 0xFE);
  EXPECT_EQ(f32_to_e4m3(std::numeric_limits<float>::infinity()), 0x7E);
  EXPECT_EQ(f32_to_e4m3(std::ldexp(1.0f, -11)), 0x00);  // a quarter of the smallest step
  EXPECT_EQ(f32_to_e4m3(std::numeric_limits<float>::quiet_NaN()), 0x7F);
}

TEST(Fp8Quantize, ChannelScalesMapEachRowsLargestValueTo448) {
  const Tensor w = random_matrix(24, 40, 1);
  const Fp8Weight q = quantize_fp8(w);
  validate_fp8(q, "test");
  ASSERT_EQ(q.scales.shape_str(), "[24]");
  EXPECT_EQ(q.activations, Fp8Activations::kPerToken);
  const Tensor back = dequantize_fp8(q);
  for (int64_t n = 0; n < 24; ++n) {
    float amax = 0;
    for (int64_t k = 0; k < 40; ++k) amax = std::max(amax, std::fabs(w.ptr<float>()[n * 40 + k]));
    EXPECT_FLOAT_EQ(q.scales.ptr<float>()[n], amax / 448.0f);
    for (int64_t k = 0; k < 40; ++k) {
      const float x = w.ptr<float>()[n * 40 + k], y = back.ptr<float>()[n * 40 + k];
      // 3 mantissa bits: within half a step, 1/16 of the value, above the subnormal range.
      EXPECT_LE(std::fabs(x - y), std::max(std::fabs(x) / 16, q.scales.ptr<float>()[n] * std::ldexp(1.0f, -10)))
          << n << "," << k;
    }
  }
}

TEST(Fp8Quantize, BlockScalesCoverPartialBlocks) {
  const Tensor w = random_matrix(40, 72, 2);
  const Fp8Weight q = quantize_fp8(w, 16, 32);
  validate_fp8(q, "test");
  EXPECT_EQ(q.scales.shape_str(), "[3, 3]");
  EXPECT_EQ(q.activations, Fp8Activations::kPerTokenGroup);
  EXPECT_EQ(q.activation_group, 32);
  // The last block [32, 40) x [64, 72) has its own scale from its own values.
  float amax = 0;
  for (int64_t n = 32; n < 40; ++n)
    for (int64_t k = 64; k < 72; ++k) amax = std::max(amax, std::fabs(w.ptr<float>()[n * 72 + k]));
  EXPECT_FLOAT_EQ(q.scales.ptr<float>()[8], amax / 448.0f);
  EXPECT_EQ(fp8_weight_scale(q, 39, 71), q.scales.ptr<float>()[8]);
  EXPECT_EQ(fp8_weight_scale(q, 15, 32), q.scales.ptr<float>()[1]);
}

TEST(Fp8Activations, EachSchemeQuantisesWithItsOwnScale) {
  std::vector<float> x = {0.5f, -3.0f, 0.001f, 7.0f, 100.0f, -0.25f, 0.0f, 1.0f};
  std::vector<float> out(x.size());
  Fp8Weight w;
  w.values = host_tensor(DType::kF8E4M3, {1, 8});
  // Per token: the row's largest magnitude becomes exactly 448 steps of the scale.
  fake_quantize_fp8_activations(w, x.data(), out.data());
  EXPECT_FLOAT_EQ(out[4], 100.0f);
  EXPECT_EQ(out[6], 0.0f);
  const float s = 100.0f / 448.0f;
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(out[i], e4m3_to_f32(f32_to_e4m3(x[i] / s)) * s) << i;
  // Per group of four: the first group's scale comes from 7, not 100.
  w.activations = Fp8Activations::kPerTokenGroup;
  w.activation_group = 4;
  fake_quantize_fp8_activations(w, x.data(), out.data());
  EXPECT_FLOAT_EQ(out[3], 7.0f);
  EXPECT_EQ(out[2], e4m3_to_f32(f32_to_e4m3(0.001f / (7.0f / 448))) * (7.0f / 448));
  // Static: values beyond 448 scales saturate.
  w.activations = Fp8Activations::kStatic;
  w.input_scale = 0.125f;
  fake_quantize_fp8_activations(w, x.data(), out.data());
  EXPECT_EQ(out[4], 56.0f);  // 100 / 0.125 = 800 -> 448
  EXPECT_EQ(out[1], -3.0f);
}

TEST(Fp8Linear, CpuReferenceIsTheDenseProductOfDequantisedWeightsAndQuantisedInputs) {
  auto backend = make_backend("cpu");
  const int64_t m = 5, k = 48, n = 20;
  for (const auto& [bn, bk] : {std::pair<int64_t, int64_t>{0, 0}, {8, 16}}) {
    LinearWeight fp8;
    fp8.fp8 = quantize_fp8(random_matrix(n, k, 3), bn, bk);
    fp8.bias = random_matrix(1, n, 4).reshape({n});
    const Tensor x = random_matrix(m, k, 5, 3.0f);
    Tensor got = host_tensor(DType::kF32, {m, n});
    backend->linear(x, fp8, got);

    LinearWeight dense{.weight = dequantize_fp8(fp8.fp8), .bias = fp8.bias};
    Tensor xq = host_tensor(DType::kF32, {m, k});
    for (int64_t i = 0; i < m; ++i)
      fake_quantize_fp8_activations(fp8.fp8, x.ptr<float>() + i * k, xq.ptr<float>() + i * k);
    Tensor want = host_tensor(DType::kF32, {m, n});
    backend->linear(xq, dense, want);
    for (int64_t i = 0; i < m * n; ++i) ASSERT_EQ(got.ptr<float>()[i], want.ptr<float>()[i]) << bn << " " << i;

    // Batch invariance: row 3 alone gives the same outputs.
    Tensor one = host_tensor(DType::kF32, {1, n});
    backend->linear(x.slice_rows(3, 4), fp8, one);
    for (int64_t j = 0; j < n; ++j) EXPECT_EQ(one.ptr<float>()[j], got.ptr<float>()[3 * n + j]);
  }
}

TEST(Fp8Weights, FusedPartsKeepTheirScalesAndSlicesKeepTheirBlocks) {
  const Fp8Weight a = quantize_fp8(random_matrix(16, 32, 6)), b = quantize_fp8(random_matrix(8, 32, 7));
  const Fp8Weight ab = concat_fp8_outputs({a, b}, {"a", "b"});
  validate_fp8(ab, "ab");
  const Tensor da = dequantize_fp8(a), db = dequantize_fp8(b), dab = dequantize_fp8(ab);
  EXPECT_EQ(std::memcmp(dab.data, da.data, da.nbytes()), 0);
  EXPECT_EQ(std::memcmp(dab.ptr<float>() + 16 * 32, db.data, db.nbytes()), 0);

  // Static input scales: the fused input is quantised once, with the larger scale.
  Fp8Weight sa = a, sb = b;
  sa.activations = sb.activations = Fp8Activations::kStatic;
  sa.input_scale = 0.5f;
  sb.input_scale = 2.0f;
  EXPECT_EQ(concat_fp8_outputs({sa, sb}, {"a", "b"}).input_scale, 2.0f);
  EXPECT_NE(error_of([&] { concat_fp8_outputs({a, sb}, {"q_proj", "k_proj"}); })
                .find("k_proj cannot be fused with q_proj: the two use different FP8 activation schemes"),
            std::string::npos);

  const Fp8Weight blocks = quantize_fp8(random_matrix(32, 64, 8), 16, 16);
  const Tensor whole = dequantize_fp8(blocks);
  const Tensor rows = dequantize_fp8(slice_fp8_outputs(blocks, 16, 32, "rank 1"));
  EXPECT_EQ(std::memcmp(rows.data, whole.ptr<float>() + 16 * 64, rows.nbytes()), 0);
  const Tensor cols = dequantize_fp8(slice_fp8_inputs(blocks, 32, 64, "rank 1"));
  for (int64_t r = 0; r < 32; ++r)
    for (int64_t c = 0; c < 32; ++c) ASSERT_EQ(cols.ptr<float>()[r * 32 + c], whole.ptr<float>()[r * 64 + 32 + c]);
  // A rank's padded vocabulary rows: zeros, with scales of 1.
  const Fp8Weight padded = pad_fp8_outputs(blocks, 40);
  validate_fp8(padded, "padded");
  EXPECT_EQ(padded.scales.shape_str(), "[3, 4]");
  const Tensor dp = dequantize_fp8(padded);
  EXPECT_EQ(std::memcmp(dp.data, whole.data, whole.nbytes()), 0);
  for (int64_t i = 32 * 64; i < 40 * 64; ++i) ASSERT_EQ(dp.ptr<float>()[i], 0.0f);
  EXPECT_EQ(padded.scales.ptr<float>()[2 * 4 + 3], 1.0f);
  EXPECT_NE(error_of([&] { slice_fp8_outputs(blocks, 8, 24, "down_proj (rank 1 of 4)"); })
                .find("down_proj (rank 1 of 4): output rows [8, 24) of 32 do not fall on the FP8 scale blocks of 16"),
            std::string::npos);
  EXPECT_NE(error_of([&] { slice_fp8_inputs(blocks, 8, 24, "o_proj"); })
                .find("o_proj: input columns [8, 24) of 64 do not fall on the FP8 groups of 16 columns"),
            std::string::npos);
}

QuantizationConfig parse(const json& j) { return parse_quantization_config(j, "m/config.json"); }
std::string parse_error(const json& j) {
  return error_of([&] { parse(j); });
}

json ct_config() {
  return json::parse(R"({"quant_method": "compressed-tensors", "format": "float-quantized",
    "config_groups": {"group_0": {"targets": ["Linear"],
      "weights": {"num_bits": 8, "type": "float", "symmetric": true, "strategy": "channel", "dynamic": false},
      "input_activations": {"num_bits": 8, "type": "float", "symmetric": true, "strategy": "token", "dynamic": true}}},
    "ignore": ["lm_head", "re:.*layers\\.3\\..*"]})");
}

TEST(Fp8Config, ReadsTheCompressedTensorsSchemes) {
  QuantizationConfig c = parse(ct_config());
  EXPECT_EQ(c.method, QuantMethod::kFp8);
  EXPECT_EQ(c.fp8.format, Fp8Config::Format::kCompressedTensors);
  EXPECT_EQ(c.fp8.weight_scales, Fp8Config::WeightScales::kChannel);
  EXPECT_EQ(c.fp8.activations, Fp8Activations::kPerToken);
  EXPECT_EQ(c.fp8.scale_suffix, ".weight_scale");
  EXPECT_TRUE(module_not_converted(c, "lm_head"));
  EXPECT_TRUE(module_not_converted(c, "model.layers.3.mlp.down_proj"));
  EXPECT_FALSE(module_not_converted(c, "model.layers.13.mlp.down_proj"));

  json j = ct_config();
  auto& group = j["config_groups"]["group_0"];
  group["weights"]["strategy"] = "tensor";
  group["input_activations"] = {{"num_bits", 8}, {"type", "float"}, {"strategy", "tensor"}, {"dynamic", false}};
  c = parse(j);
  EXPECT_EQ(c.fp8.weight_scales, Fp8Config::WeightScales::kTensor);
  EXPECT_EQ(c.fp8.activations, Fp8Activations::kStatic);
  group["input_activations"]["dynamic"] = true;  // dynamic per tensor: computed per token
  EXPECT_EQ(parse(j).fp8.activations, Fp8Activations::kPerToken);

  group["weights"]["strategy"] = "block";
  group["weights"]["block_structure"] = {128, 128};
  group["input_activations"] = {{"num_bits", 8}, {"type", "float"}, {"strategy", "group"}, {"group_size", 128},
                                {"dynamic", true}};
  c = parse(j);
  EXPECT_EQ(c.fp8.weight_scales, Fp8Config::WeightScales::kBlock);
  EXPECT_EQ(c.fp8.block_rows, 128);
  EXPECT_EQ(c.fp8.activations, Fp8Activations::kPerTokenGroup);
  EXPECT_EQ(c.fp8.activation_group, 128);
}

TEST(Fp8Config, ReadsTheFp8Method) {
  QuantizationConfig c = parse({{"quant_method", "fp8"}, {"activation_scheme", "static"}});
  EXPECT_EQ(c.fp8.format, Fp8Config::Format::kFp8);
  EXPECT_EQ(c.fp8.weight_scales, Fp8Config::WeightScales::kTensor);
  EXPECT_EQ(c.fp8.activations, Fp8Activations::kStatic);
  c = parse({{"quant_method", "fp8"}, {"activation_scheme", "dynamic"}, {"weight_block_size", {128, 64}},
             {"modules_to_not_convert", {"lm_head"}}});
  EXPECT_EQ(c.fp8.weight_scales, Fp8Config::WeightScales::kBlock);
  EXPECT_EQ(c.fp8.block_rows, 128);
  EXPECT_EQ(c.fp8.block_cols, 64);
  EXPECT_EQ(c.fp8.activations, Fp8Activations::kPerTokenGroup);
  EXPECT_EQ(c.fp8.activation_group, 64);
  EXPECT_EQ(c.fp8.scale_suffix, ".weight_scale_inv");
  EXPECT_TRUE(module_not_converted(c, "lm_head"));
}

TEST(Fp8Config, UnsupportedVariantsNameTheField) {
  const auto expect_error = [](const json& j, const std::string& want) {
    const std::string e = parse_error(j);
    EXPECT_NE(e.find(want), std::string::npos) << e;
    EXPECT_NE(e.find("m/config.json"), std::string::npos) << e;
    EXPECT_NE(e.find("supported FP8"), std::string::npos) << e;
  };
  expect_error({{"quant_method", "fp8"}, {"activation_scheme", "static"}, {"weight_block_size", {128, 128}}},
               "field 'quantization_config.activation_scheme': 'static' is not supported with weight_block_size");
  expect_error({{"quant_method", "fp8"}, {"fmt", "e5m2"}}, "field 'quantization_config.fmt': 'e5m2' is not supported");
  expect_error({{"quant_method", "fp8"}, {"weight_block_size", {128}}},
               "field 'quantization_config.weight_block_size': [128] is not a [rows, columns] pair");

  json j = ct_config();
  j["config_groups"]["group_0"]["weights"]["num_bits"] = 4;
  expect_error(j, "field 'quantization_config.config_groups.group_0.weights.num_bits': 4 is not supported");
  j = ct_config();
  j["config_groups"]["group_0"]["weights"]["type"] = "int";
  expect_error(j, "weights.type': 'int' is not supported");
  j = ct_config();
  j["config_groups"]["group_0"]["weights"]["strategy"] = "group";
  expect_error(j, "weights.strategy': 'group' is not supported (tensor, channel or block)");
  j = ct_config();
  j["config_groups"]["group_0"].erase("input_activations");
  expect_error(j, "group_0.input_activations': is missing: FP8 weight-only checkpoints are not supported");
  j = ct_config();
  j["config_groups"]["group_0"]["input_activations"]["dynamic"] = false;
  expect_error(j, "input_activations.dynamic': false is not supported with strategy 'token'");
  j = ct_config();
  j["config_groups"]["group_1"] = j["config_groups"]["group_0"];
  expect_error(j, "field 'quantization_config.config_groups': has 2 groups");
  j = ct_config();
  j["format"] = "pack-quantized";
  expect_error(j, "field 'quantization_config.format': 'pack-quantized' is not supported");
}

Fp8Tensors tensors_of(const Fp8Weight& w) {
  Fp8Tensors t{.name = "model.layers.0.mlp.up_proj", .source = "m/model.safetensors", .weight = w.values};
  return t;
}

TEST(Fp8Checkpoint, PerTensorScalesBecomeChannelScales) {
  const Fp8Weight q = quantize_fp8(random_matrix(8, 16, 9));
  Fp8Tensors t = tensors_of(q);
  t.weight_scale = host_tensor(DType::kF32, {1});
  t.weight_scale.ptr<float>()[0] = 0.25f;
  Fp8Config config{.weight_scales = Fp8Config::WeightScales::kTensor};
  const Fp8Weight w = read_fp8_linear(t, config, 8, 16);
  ASSERT_EQ(w.scales.shape_str(), "[8]");
  for (int i = 0; i < 8; ++i) EXPECT_EQ(w.scales.ptr<float>()[i], 0.25f);
  EXPECT_EQ(w.values.data, q.values.data);  // a view of the checkpoint's bytes
}

TEST(Fp8Checkpoint, WrongTensorsNameTheTensorAndTheExpectedShape) {
  const Fp8Weight q = quantize_fp8(random_matrix(8, 16, 10));
  const auto expect_error = [](const Fp8Tensors& t, const Fp8Config& c, const std::string& want) {
    const std::string e = error_of([&] { read_fp8_linear(t, c, 8, 16); });
    EXPECT_NE(e.find("m/model.safetensors: tensor 'model.layers.0.mlp.up_proj"), std::string::npos) << e;
    EXPECT_NE(e.find(want), std::string::npos) << e;
  };
  Fp8Tensors t = tensors_of(q);
  t.weight_scale = q.scales.reshape({8, 1});
  const Fp8Config channel{.weight_scales = Fp8Config::WeightScales::kChannel};
  EXPECT_NO_THROW(read_fp8_linear(t, channel, 8, 16));

  Fp8Tensors bf16 = t;
  bf16.weight = convert_host(dequantize_fp8(q), DType::kBF16);
  expect_error(bf16, channel, ".weight': dtype BF16 but the FP8 quantization_config needs F8_E4M3");
  expect_error(t, Fp8Config{.weight_scales = Fp8Config::WeightScales::kTensor},
               ".weight_scale': shape [8, 1] but a per-tensor scale is [] or [1]");
  Fp8Tensors short_scales = t;
  short_scales.weight_scale = q.scales.slice_rows(0, 4);
  expect_error(short_scales, channel, ".weight_scale': shape [4] but per-channel scales are [8] or [8, 1]");
  const Fp8Config blocks{.weight_scales = Fp8Config::WeightScales::kBlock,
                         .block_rows = 4,
                         .block_cols = 8,
                         .activations = Fp8Activations::kPerTokenGroup,
                         .activation_group = 8,
                         .scale_suffix = ".weight_scale_inv"};
  expect_error(t, blocks, ".weight_scale_inv': shape [8, 1] but blocks of [4, 8] over [8, 16] need [2, 2]");
  const Fp8Config static_acts{.weight_scales = Fp8Config::WeightScales::kChannel,
                              .activations = Fp8Activations::kStatic};
  expect_error(t, static_acts, ".input_scale': is missing");

  Fp8Tensors negative = t;
  negative.weight_scale = convert_host(q.scales, DType::kF32).reshape({8, 1});
  negative.weight_scale.ptr<float>()[3] = -1.0f;
  const std::string e = error_of([&] { read_fp8_linear(negative, channel, 8, 16); });
  EXPECT_NE(e.find("FP8 weight scale 3 is -1; scales must be finite and positive"), std::string::npos) << e;
}

}  // namespace
}  // namespace tern
