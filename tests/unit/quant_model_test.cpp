// Quantized checkpoints of tests/data/models/tiny-qwen2 (hidden 64, so groups of 32):
// tern's GPTQ writer output loads and its logits stay close to the bf16 model's; the
// same INT4 weights stored as GPTQ v1, GPTQ v2 and AWQ give bit-identical logits; an
// act-order (g_idx) checkpoint gives exactly the logits of the dense model of its
// dequantised weights; malformed checkpoints fail with errors that say what is wrong.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <random>

#include "base/error.h"
#include "model/json_file.h"
#include "model/safetensors.h"
#include "quant/checkpoint_writer.h"
#include "quant/quant_config.h"
#include "quant/rtn.h"
#include "quant/safetensors_writer.h"
#include "quant_fixture.h"
#include "tensor/convert.h"

namespace tern {
namespace {

using namespace quant_test;

constexpr int64_t kGroup = 32;
const char* const kProjections[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                    "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

nlohmann::json tiny_config() { return load_json_file(kTinyQwen + "/config.json", 1 << 20); }

void write_json(const std::string& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(2); }


// Each decoder projection of tiny-qwen2 with its dense weight replaced by `quantize`'s
// result, written by `store` under the module name; every other tensor kept.
using Quantize = std::function<Int4Weight(const std::string& module, const Tensor& weight)>;
using Store = std::function<void(std::map<std::string, Tensor>&, const std::string& module, const Int4Weight&)>;

std::map<std::string, Tensor> quantized_tensors(const Quantize& quantize, const Store& store) {
  std::map<std::string, Tensor> tensors = read_all(kTinyQwen + "/model.safetensors");
  for (int layer = 0; layer < 2; ++layer) {
    for (const char* proj : kProjections) {
      const std::string module = "model.layers." + std::to_string(layer) + "." + proj;
      const Tensor dense = tensors.at(module + ".weight");
      tensors.erase(module + ".weight");
      store(tensors, module, quantize(module, dense));
    }
  }
  return tensors;
}

void store_gptq(std::map<std::string, Tensor>& t, const std::string& module, const Int4Weight& w, GptqFormat f) {
  const PackedLinear p = pack_gptq(w, f);
  t[module + ".qweight"] = p.qweight;
  t[module + ".qzeros"] = p.qzeros;
  t[module + ".scales"] = p.scales;
  t[module + ".g_idx"] = p.g_idx;
}

void store_awq(std::map<std::string, Tensor>& t, const std::string& module, const Int4Weight& w) {
  const PackedLinear p = pack_awq_for_test(w);
  t[module + ".qweight"] = p.qweight;
  t[module + ".qzeros"] = p.qzeros;
  t[module + ".scales"] = p.scales;
}

void store_dense(std::map<std::string, Tensor>& t, const std::string& module, const Int4Weight& w) {
  t[module + ".weight"] = dequantize_int4(w);
}

std::string write_model(const TempDir& dir, const std::string& name, const std::map<std::string, Tensor>& tensors,
                        const nlohmann::json& quantization_config) {
  const std::string path = dir.file(name);
  fs::create_directories(path);
  nlohmann::json config = tiny_config();
  if (!quantization_config.is_null()) config["quantization_config"] = quantization_config;
  write_json(path + "/config.json", config);
  write_safetensors(path + "/model.safetensors", tensors);
  return path;
}

Int4Weight rtn(const std::string&, const Tensor& w) { return quantize_rtn(w, {.group_size = kGroup, .sym = false}); }

// RTN over columns in a shuffled order, so that groups are scattered over the row as
// GPTQ's act-order makes them. Layers that share an input share the order.
Int4Weight scattered_rtn(const std::string& module, const Tensor& w) {
  const int64_t n = w.dim(0), k = w.dim(1);
  std::vector<int64_t> perm(static_cast<size_t>(k));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(uint32_t(k + (module.find("layers.1") != std::string::npos))));
  Tensor permuted = host_tensor(DType::kF32, {n, k});
  std::vector<float> row(static_cast<size_t>(k));
  for (int64_t j = 0; j < n; ++j) {
    read_as_f32(w, j * k, k, row.data());
    for (int64_t a = 0; a < k; ++a) permuted.ptr<float>()[j * k + a] = row[size_t(perm[size_t(a)])];
  }
  const Int4Weight q = quantize_rtn(permuted, {.group_size = kGroup, .sym = false});
  Int4Weight out = make_host_int4(n, k, kGroup);
  std::memcpy(out.scales.data, q.scales.data, q.scales.nbytes());
  std::memcpy(out.zeros.data, q.zeros.data, q.zeros.nbytes());
  out.group_index = host_tensor(DType::kI32, {k});
  for (int64_t a = 0; a < k; ++a) {
    out.group_index.ptr<int32_t>()[perm[size_t(a)]] = int32_t(a / kGroup);
    for (int64_t j = 0; j < n; ++j) set_int4_code(out, j, perm[size_t(a)], int4_code(q, j, a));
  }
  return out;
}

nlohmann::json gptq_json(bool desc_act, const char* format = "gptq") {
  nlohmann::json j = gptq_config_json(kGroup, false, desc_act, 0.01);
  j["checkpoint_format"] = format;
  return j;
}

const nlohmann::json kAwqJson = {
    {"quant_method", "awq"}, {"bits", 4}, {"group_size", kGroup}, {"version", "gemm"}, {"zero_point", true}};

TEST(QuantModel, WriterOutputLoadsAndLogitsAreCloseToTheBf16Model) {
  TempDir dir;
  const auto source = read_all(kTinyQwen + "/model.safetensors");
  CheckpointWriter writer(tiny_config(), gptq_json(false));
  for (const auto& [name, t] : source) {
    const std::string module = name.substr(0, name.rfind('.'));
    const bool proj = module.find("proj") != std::string::npos;
    if (!proj)
      writer.add_tensor(name, t);
    else if (name.ends_with(".weight"))
      writer.add_linear(module, rtn(module, t),
                        source.count(module + ".bias") ? source.at(module + ".bias") : Tensor{});
  }
  writer.write(dir.file("rtn"), kTinyQwen);
  // The folder is complete: tokenizer files copied, config marked, tensors named as GPTQ.
  for (const char* file : {"tokenizer.json", "tokenizer_config.json", "generation_config.json"})
    EXPECT_TRUE(fs::exists(dir.file("rtn/") + file)) << file;
  const nlohmann::json config = load_json_file(dir.file("rtn/config.json"), 1 << 20);
  EXPECT_EQ(config["quantization_config"]["quant_method"], "gptq");
  EXPECT_EQ(config["quantization_config"]["checkpoint_format"], "gptq");
  const auto written = read_all(dir.file("rtn/model.safetensors"));
  EXPECT_EQ(written.at("model.layers.0.self_attn.q_proj.qweight").shape_str(), "[8, 64]");
  EXPECT_EQ(written.at("model.layers.0.self_attn.q_proj.qzeros").shape_str(), "[2, 8]");
  EXPECT_EQ(written.at("model.layers.0.self_attn.q_proj.scales").dtype, DType::kF16);
  EXPECT_EQ(written.at("model.layers.0.self_attn.q_proj.bias").dtype, DType::kF16);
  EXPECT_EQ(written.at("model.layers.1.mlp.down_proj.g_idx").shape_str(), "[128]");
  EXPECT_EQ(written.count("model.layers.0.self_attn.q_proj.weight"), 0u);

  const LogitsError e =
      compare_logits(model_logits(dir.file("rtn"), test_prompt()), model_logits(kTinyQwen, test_prompt()));
  std::cout << "tiny-qwen2 RTN g32 vs bf16 logits: max |diff| " << e.max_abs << " (max |logit| " << e.max_ref
            << "), rms ratio " << e.rms_ratio << "\n";
  RecordProperty("rtn_g32_logits_max_abs_diff", std::to_string(e.max_abs));
  RecordProperty("rtn_g32_logits_rms_ratio", std::to_string(e.rms_ratio));
  // tiny-qwen2's weights are random (std 0.15, gain above 1 per layer): INT4 in groups
  // of 32 changes each projection by about 8% (rms), which compounds to about 30% of
  // the logits' rms. Real models fare far better; this bounds gross errors only.
  EXPECT_LT(e.rms_ratio, 0.4f);
  EXPECT_GT(e.max_abs, 0.0f);  // the weights did change
}

TEST(QuantModel, GptqV1V2AndAwqOfTheSameWeightsGiveIdenticalLogits) {
  TempDir dir;
  using namespace std::placeholders;
  const auto v1 = write_model(dir, "v1", quantized_tensors(rtn, std::bind(store_gptq, _1, _2, _3, GptqFormat::kV1)),
                              gptq_json(false));
  const auto v2 = write_model(dir, "v2", quantized_tensors(rtn, std::bind(store_gptq, _1, _2, _3, GptqFormat::kV2)),
                              gptq_json(false, "gptq_v2"));
  const auto awq = write_model(dir, "awq", quantized_tensors(rtn, store_awq), kAwqJson);
  const auto dense = write_model(dir, "dense", quantized_tensors(rtn, store_dense), nullptr);
  const std::vector<float> want = model_logits(dense, test_prompt());
  EXPECT_EQ(model_logits(v1, test_prompt()), want);
  EXPECT_EQ(model_logits(v2, test_prompt()), want);
  EXPECT_EQ(model_logits(awq, test_prompt()), want);
}

TEST(QuantModel, ActOrderCheckpointEqualsTheDenseModelOfItsWeights) {
  TempDir dir;
  using namespace std::placeholders;
  const auto act =
      write_model(dir, "act", quantized_tensors(scattered_rtn, std::bind(store_gptq, _1, _2, _3, GptqFormat::kV1)),
                  gptq_json(true));
  const auto written = read_all(act + "/model.safetensors");
  const Tensor g_idx = written.at("model.layers.0.mlp.down_proj.g_idx");
  bool scattered = false;
  for (int k = 0; k < 128; ++k) scattered = scattered || g_idx.ptr<int32_t>()[k] != k / kGroup;
  ASSERT_TRUE(scattered);
  const auto dense = write_model(dir, "dense", quantized_tensors(scattered_rtn, store_dense), nullptr);
  EXPECT_EQ(model_logits(act, test_prompt()), model_logits(dense, test_prompt()));
}


TEST(QuantModel, MalformedCheckpointsSayWhatIsWrong) {
  TempDir dir;
  using namespace std::placeholders;
  const auto good = quantized_tensors(rtn, std::bind(store_gptq, _1, _2, _3, GptqFormat::kV1));
  const std::string q = "model.layers.1.self_attn.q_proj";

  auto wrong_shape = good;
  wrong_shape[q + ".qweight"] = good.at("model.layers.1.self_attn.k_proj.qweight");
  std::string e = load_error(write_model(dir, "shape", wrong_shape, gptq_json(false)));
  EXPECT_NE(e.find("tensor '" + q + ".qweight': shape [8, 32] but [8, 64] is expected"), std::string::npos) << e;

  auto no_zeros = good;
  no_zeros.erase(q + ".qzeros");
  e = load_error(write_model(dir, "zeros", no_zeros, gptq_json(false)));
  EXPECT_NE(e.find("tensor '" + q + ".qzeros' is missing"), std::string::npos) << e;

  nlohmann::json eight_bits = gptq_json(false);
  eight_bits["bits"] = 8;
  e = load_error(write_model(dir, "bits", good, eight_bits));
  EXPECT_NE(e.find("field 'quantization_config.bits': 8 is not supported"), std::string::npos) << e;

  e = load_error(write_model(dir, "unmarked", good, nullptr));
  EXPECT_NE(e.find("is quantized, but config.json has no quantization_config"), std::string::npos) << e;

  e = load_error(write_model(dir, "dense", read_all(kTinyQwen + "/model.safetensors"), gptq_json(false)));
  EXPECT_NE(e.find("model.layers.0.self_attn.q_proj.qweight' is missing: a GPTQ checkpoint stores"), std::string::npos)
      << e;

  e = load_error(write_model(dir, "awq_as_gptq", quantized_tensors(rtn, store_awq), gptq_json(false)));
  EXPECT_NE(e.find("q_proj.qweight': shape [64, 8] but [8, 64] is expected (GPTQ qweight is"), std::string::npos) << e;
}

}  // namespace
}  // namespace tern
