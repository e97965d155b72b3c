// GPTQ (v1, v2) and AWQ checkpoint tensors convert to tern's INT4 layout exactly: against
// hand-packed words, through pack/unpack round trips, and with clear errors for tensors
// of the wrong shape or dtype.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "quant/packed_linear.h"
#include "quant/quant_config.h"
#include "quant_fixture.h"

namespace tern {
namespace {

using quant_test::expect_same_int4;
using quant_test::random_int4;

QuantizationConfig gptq_config(int64_t group_size, GptqFormat format, bool desc_act = false) {
  QuantizationConfig c;
  c.method = QuantMethod::kGptq;
  c.group_size = group_size;
  c.gptq_format = format;
  c.desc_act = desc_act;
  return c;
}

QuantizationConfig awq_config(int64_t group_size) {
  QuantizationConfig c;
  c.method = QuantMethod::kAwq;
  c.group_size = group_size;
  return c;
}

Tensor i32_tensor(std::initializer_list<int64_t> shape, const std::vector<uint32_t>& words) {
  Tensor t = host_tensor(DType::kI32, shape);
  std::copy(words.begin(), words.end(), t.ptr<uint32_t>());
  return t;
}

// Scales [1, 8] F16: output j has scale (j + 1) / 4.
Tensor eighth_scales() {
  Tensor t = host_tensor(DType::kF16, {1, 8});
  for (int j = 0; j < 8; ++j) t.ptr<uint16_t>()[j] = f32_to_f16(0.25f * float(j + 1));
  return t;
}

// An 8 x 8 layer, one group, with code(n, k) = (n + k) % 16, hand-packed. GPTQ packs
// along K, so word n of qweight's single row lists code(n, 0..7) from the low nibble up.
PackedLinear hand_packed_gptq(uint32_t zero_word) {
  PackedLinear p;
  p.name = "layer";
  p.source = "hand.safetensors";
  p.qweight = i32_tensor(
      {1, 8}, {0x76543210, 0x87654321, 0x98765432, 0xA9876543, 0xBA987654, 0xCBA98765, 0xDCBA9876, 0xEDCBA987});
  p.qzeros = i32_tensor({1, 1}, {zero_word});
  p.scales = eighth_scales();
  return p;
}

void expect_hand_weights(const Int4Weight& w, int zero_offset) {
  ASSERT_EQ(w.out_features(), 8);
  ASSERT_EQ(w.in_features(), 8);
  std::vector<float> row(8);
  for (int n = 0; n < 8; ++n) {
    dequantize_int4_row(w, n, row.data());
    for (int k = 0; k < 8; ++k) {
      EXPECT_EQ(int4_code(w, n, k), (n + k) % 16) << n << "," << k;
      EXPECT_EQ(row[size_t(k)], 0.25f * float(n + 1) * float((n + k) % 16 - (n + zero_offset))) << n << "," << k;
    }
  }
}

TEST(QuantPacking, GptqV1StoresZeroMinusOne) {
  // Real zero of output n is n + 1; v1 stores n in nibble n.
  const Int4Weight w = unpack_gptq(hand_packed_gptq(0x76543210), gptq_config(-1, GptqFormat::kV1), 8, 8);
  for (int n = 0; n < 8; ++n) EXPECT_EQ(w.zeros.ptr<uint8_t>()[n], n + 1);
  expect_hand_weights(w, 1);
}

TEST(QuantPacking, GptqV2StoresZeroAsIs) {
  const Int4Weight w = unpack_gptq(hand_packed_gptq(0x87654321), gptq_config(-1, GptqFormat::kV2), 8, 8);
  expect_hand_weights(w, 1);
}

TEST(QuantPacking, GptqV1ZeroNibbleFifteenMeansSixteen) {
  // AutoGPTQ's v1 reads every stored nibble plus one, so 0xF is a zero point of 16.
  const Int4Weight w = unpack_gptq(hand_packed_gptq(0xFFFFFFFF), gptq_config(-1, GptqFormat::kV1), 8, 8);
  for (int n = 0; n < 8; ++n) EXPECT_EQ(w.zeros.ptr<uint8_t>()[n], 16);
}

TEST(QuantPacking, AwqInterleavesColumnsZeroTwoFourSixOneThreeFiveSeven) {
  // AWQ packs along N: for input k, position i of the word holds column order[i] =
  // [0, 2, 4, 6, 1, 3, 5, 7]; with code(n, k) = (n + k) % 16 input 0 is 0x75316420.
  std::vector<uint32_t> rows(8);
  for (uint32_t k = 0; k < 8; ++k) {
    const uint32_t order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
    for (int pos = 0; pos < 8; ++pos) rows[k] |= ((order[pos] + k) % 16) << (4 * pos);
  }
  ASSERT_EQ(rows[0], 0x75316420u);
  ASSERT_EQ(rows[1], 0x86427531u);
  PackedLinear p;
  p.name = "layer";
  p.qweight = i32_tensor({8, 1}, rows);
  p.qzeros = i32_tensor({1, 1}, {0x86427531});  // zero of column n is n + 1, same order
  p.scales = eighth_scales();
  expect_hand_weights(unpack_awq(p, awq_config(8), 8, 8), 1);
}

TEST(QuantPacking, GptqRoundTripsBothFormatsWithAndWithoutActOrder) {
  for (GptqFormat format : {GptqFormat::kV1, GptqFormat::kV2}) {
    for (bool act_order : {false, true}) {
      const int lo = format == GptqFormat::kV1 ? 1 : 0, hi = format == GptqFormat::kV1 ? 16 : 15;
      const Int4Weight w = random_int4(24, 64, 16, 7, act_order, lo, hi);
      const PackedLinear packed = pack_gptq(w, format);
      EXPECT_EQ(packed.qweight.shape_str(), "[8, 24]");
      EXPECT_EQ(packed.qzeros.shape_str(), "[4, 3]");
      EXPECT_EQ(packed.scales.shape_str(), "[4, 24]");
      EXPECT_EQ(packed.g_idx.shape_str(), "[64]");
      expect_same_int4(unpack_gptq(packed, gptq_config(16, format, act_order), 24, 64), w);
    }
  }
}

TEST(QuantPacking, PlainGIdxIsDropped) {
  const Int4Weight w = random_int4(8, 32, 8, 3);
  const PackedLinear packed = pack_gptq(w, GptqFormat::kV1);
  for (int k = 0; k < 32; ++k) ASSERT_EQ(packed.g_idx.ptr<int32_t>()[k], k / 8);
  EXPECT_TRUE(unpack_gptq(packed, gptq_config(8, GptqFormat::kV1), 8, 32).group_index.empty());
}

TEST(QuantPacking, GIdxOfInt64IsAccepted) {
  const Int4Weight w = random_int4(8, 32, 8, 4, /*act_order=*/true);
  PackedLinear packed = pack_gptq(w, GptqFormat::kV1);
  Tensor wide = host_tensor(DType::kI64, {32});
  for (int k = 0; k < 32; ++k) wide.ptr<int64_t>()[k] = packed.g_idx.ptr<int32_t>()[k];
  packed.g_idx = wide;
  expect_same_int4(unpack_gptq(packed, gptq_config(8, GptqFormat::kV1, true), 8, 32), w);
}

TEST(QuantPacking, AwqRoundTrips) {
  const Int4Weight w = random_int4(16, 64, 32, 11, false, 0, 15);
  expect_same_int4(unpack_awq(quant_test::pack_awq_for_test(w), awq_config(32), 16, 64), w);
}

TEST(QuantPacking, ZeroPointsOutsideTheFormatAreRefused) {
  EXPECT_THROW(pack_gptq(random_int4(8, 8, 8, 1, false, 0, 0), GptqFormat::kV1), Error);
  EXPECT_THROW(pack_gptq(random_int4(8, 8, 8, 1, false, 16, 16), GptqFormat::kV2), Error);
}

std::string unpack_error(const PackedLinear& p, const QuantizationConfig& c, int64_t n, int64_t k) {
  try {
    unpack_linear(p, c, n, k);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(QuantPacking, WrongShapesAndDtypesNameTheTensorAndLayout) {
  const Int4Weight w = random_int4(16, 32, 8, 5);
  const QuantizationConfig c = gptq_config(8, GptqFormat::kV1);
  PackedLinear p = pack_gptq(w, GptqFormat::kV1);
  p.name = "model.layers.0.mlp.up_proj";
  p.source = "model.safetensors";
  // Shapes of a transposed layer (out and in swapped).
  std::string e = unpack_error(p, c, 32, 16);
  EXPECT_NE(e.find("model.safetensors: tensor 'model.layers.0.mlp.up_proj.qweight': shape [4, 16] but [2, 32]"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("in_features / 8, out_features"), std::string::npos) << e;

  PackedLinear bad_zeros = p;
  bad_zeros.qzeros = host_tensor(DType::kI32, {4, 16});
  e = unpack_error(bad_zeros, c, 16, 32);
  EXPECT_NE(e.find("'model.layers.0.mlp.up_proj.qzeros': shape [4, 16] but [4, 2]"), std::string::npos) << e;

  PackedLinear float_weight = p;
  float_weight.qweight = host_tensor(DType::kF16, {4, 16});
  e = unpack_error(float_weight, c, 16, 32);
  EXPECT_NE(e.find("qweight': dtype F16 where I32 is expected"), std::string::npos) << e;

  PackedLinear bad_g_idx = p;
  bad_g_idx.g_idx.ptr<int32_t>()[3] = 9;
  e = unpack_error(bad_g_idx, c, 16, 32);
  EXPECT_NE(e.find("g_idx': group 9 of input column 3 is outside [0, 4)"), std::string::npos) << e;

  PackedLinear no_g_idx = p;
  no_g_idx.g_idx = Tensor{};
  e = unpack_error(no_g_idx, gptq_config(8, GptqFormat::kV1, /*desc_act=*/true), 16, 32);
  EXPECT_NE(e.find("g_idx' is missing but desc_act is true"), std::string::npos) << e;

  e = unpack_error(p, c, 12, 32);
  EXPECT_NE(e.find("multiples of 8"), std::string::npos) << e;
}

TEST(QuantPacking, FusingNeedsOneGroupIndex) {
  const Int4Weight a = random_int4(8, 32, 8, 1, true), b = random_int4(8, 32, 8, 2, true);
  try {
    concat_int4_outputs({a, b}, {"q_proj", "k_proj"});
    FAIL() << "fused layers with different g_idx";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("k_proj: its g_idx (act-order groups) differs from q_proj"), std::string::npos)
        << e.what();
  }
  const Int4Weight c = random_int4(16, 32, 8, 3);
  const Int4Weight fused = concat_int4_outputs({c, random_int4(8, 32, 8, 4)}, {"gate", "up"});
  EXPECT_EQ(fused.out_features(), 24);
  std::vector<float> got(32), want(32);
  for (int n = 0; n < 16; ++n) {
    dequantize_int4_row(fused, n, got.data());
    dequantize_int4_row(c, n, want.data());
    EXPECT_EQ(got, want);
  }
}

std::string config_error(const nlohmann::json& j) {
  try {
    parse_quantization_config(j, "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(QuantConfig, ParsesGptqAndAwq) {
  QuantizationConfig g = parse_quantization_config(
      {{"quant_method", "gptq"}, {"bits", 4}, {"group_size", 128}, {"desc_act", true}, {"sym", false}}, "c");
  EXPECT_EQ(g.method, QuantMethod::kGptq);
  EXPECT_EQ(g.gptq_format, GptqFormat::kV1);
  EXPECT_TRUE(g.desc_act);
  EXPECT_FALSE(g.sym);
  EXPECT_EQ(g.group_size_for(512), 128);
  g = parse_quantization_config(
      {{"quant_method", "gptq"}, {"bits", 4}, {"group_size", -1}, {"checkpoint_format", "gptq_v2"}}, "c");
  EXPECT_EQ(g.gptq_format, GptqFormat::kV2);
  EXPECT_EQ(g.group_size_for(512), 512);
  const QuantizationConfig a = parse_quantization_config(
      {{"quant_method", "awq"}, {"bits", 4}, {"group_size", 128}, {"version", "GEMM"}, {"zero_point", true}}, "c");
  EXPECT_EQ(a.method, QuantMethod::kAwq);
  // tern's own output parses back to what it says.
  const QuantizationConfig own = parse_quantization_config(gptq_config_json(32, true, true, 0.01), "c");
  EXPECT_EQ(own.group_size, 32);
  EXPECT_TRUE(own.sym && own.desc_act);
}

TEST(QuantConfig, UnsupportedConfigurationsListWhatIsSupported) {
  const nlohmann::json base = {{"quant_method", "gptq"}, {"bits", 4}, {"group_size", 128}};
  auto with = [&](const char* key, nlohmann::json value) {
    nlohmann::json j = base;
    j[key] = std::move(value);
    return config_error(j);
  };
  for (const std::string& e :
       {with("bits", 8), with("quant_method", "exl2"), with("checkpoint_format", "marlin"), with("pack_dtype", "int16"),
        with("lm_head", true), with("group_size", 0),
        config_error({{"quant_method", "awq"}, {"bits", 4}, {"group_size", 128}, {"version", "gemv"}}),
        config_error({{"quant_method", "awq"}, {"bits", 4}, {"group_size", 128}, {"zero_point", false}})}) {
    EXPECT_NE(e.find("config.json: field 'quantization_config."), std::string::npos) << e;
    EXPECT_NE(e.find("supported: quant_method \"gptq\""), std::string::npos) << e;
  }
  EXPECT_NE(with("bits", 8).find("'quantization_config.bits': 8 is not supported"), std::string::npos);
  EXPECT_NE(config_error({{"bits", 4}}).find("'quantization_config.quant_method': is missing"), std::string::npos);
}

}  // namespace
}  // namespace tern
