// config.json parsing: the real configs of the models tern serves, both ways of writing
// RoPE parameters, and case E3 of docs/reliability.md (refuse unknown architectures and absurd
// or inconsistent sizes with an error naming the file and the field).
#include "model/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

#include "base/error.h"
#include "test_support.h"

namespace tern {
namespace {

using testing::error_of;
using testing::expect_contains;

using nlohmann::json;
const std::string kSource = "/models/m/config.json";

// As published on the Hugging Face hub.
json qwen25_7b_instruct() {
  return json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 3584, "initializer_range": 0.02,
    "intermediate_size": 18944, "max_position_embeddings": 32768, "max_window_layers": 28,
    "model_type": "qwen2", "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4,
    "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 131072, "tie_word_embeddings": false,
    "torch_dtype": "bfloat16", "transformers_version": "4.43.1", "use_cache": true,
    "use_sliding_window": false, "vocab_size": 152064})");
}

json llama31_8b_instruct() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.42.3", "use_cache": true, "vocab_size": 128256})");
}

json mistral_7b_instruct_v03() {
  return json::parse(R"({
    "architectures": ["MistralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
    "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0,
    "sliding_window": null, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.42.0.dev0", "use_cache": true, "vocab_size": 32768})");
}

// The error for `config`, which must start with the source and name every part.
void expect_config_error(const json& config, std::initializer_list<std::string> parts) {
  const std::string message = error_of([&] { parse_model_config(config, kSource); });
  EXPECT_EQ(message.rfind(kSource + ": ", 0), 0u) << message;
  expect_contains(message, parts);
}

// `base` with one change.
json with(json base, const std::function<void(json&)>& change) {
  change(base);
  return base;
}

TEST(ModelConfig, Qwen25_7BInstruct) {
  const ModelConfig c = parse_model_config(qwen25_7b_instruct(), kSource);
  EXPECT_EQ(c.architecture, "Qwen2ForCausalLM");
  EXPECT_EQ(c.model_type, "qwen2");
  EXPECT_EQ(c.vocab_size, 152064);
  EXPECT_EQ(c.hidden_size, 3584);
  EXPECT_EQ(c.intermediate_size, 18944);
  EXPECT_EQ(c.num_hidden_layers, 28);
  EXPECT_EQ(c.num_attention_heads, 28);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.rope_theta, 1e6);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kNone);
  EXPECT_EQ(c.max_position_embeddings, 32768);
  EXPECT_EQ(c.sliding_window, 0);  // Qwen2's sliding_window is unused while use_sliding_window is false
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_TRUE(c.attention_bias);  // Qwen2 always has Q/K/V biases; its config has no key for it
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_EQ(c.bos_token_id, 151643);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{151645});
}

TEST(ModelConfig, Llama31_8BInstructWithLlama3RopeScaling) {
  const ModelConfig c = parse_model_config(llama31_8b_instruct(), kSource);
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_EQ(c.rope_scaling.low_freq_factor, 1.0);
  EXPECT_EQ(c.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(c.bos_token_id, 128000);

  const ModelConfig biased = parse_model_config(with(llama31_8b_instruct(),
                                                     [](json& j) {
                                                       j["attention_bias"] = true;
                                                       j["mlp_bias"] = true;
                                                     }),
                                                kSource);
  EXPECT_TRUE(biased.attention_bias);
  EXPECT_TRUE(biased.mlp_bias);
}

TEST(ModelConfig, Mistral7B) {
  const ModelConfig v03 = parse_model_config(mistral_7b_instruct_v03(), kSource);
  EXPECT_EQ(v03.model_type, "mistral");
  EXPECT_EQ(v03.vocab_size, 32768);
  EXPECT_EQ(v03.head_dim, 128);
  EXPECT_EQ(v03.sliding_window, 0);
  EXPECT_FALSE(v03.attention_bias);
  EXPECT_EQ(v03.bos_token_id, 1);

  // Mistral-7B-v0.1 attends over a 4096-token window.
  const ModelConfig v01 = parse_model_config(with(mistral_7b_instruct_v03(),
                                                  [](json& j) {
                                                    j["sliding_window"] = 4096;
                                                    j["rope_theta"] = 10000.0;
                                                    j["vocab_size"] = 32000;
                                                  }),
                                             kSource);
  EXPECT_EQ(v01.sliding_window, 4096);
  EXPECT_EQ(v01.rope_theta, 10000.0);
}

// Which layers attend over a sliding window, as transformers decides it.
TEST(ModelConfig, MistralSlidesEveryLayerOverItsWindow) {
  const ModelConfig v01 =
      parse_model_config(with(mistral_7b_instruct_v03(), [](json& j) { j["sliding_window"] = 4096; }), kSource);
  for (int64_t layer : {0, 17, 31}) EXPECT_EQ(v01.attention_window(layer), 4096) << layer;
  // MistralConfig's default when the field is absent; null (v0.3) is no window at all.
  const ModelConfig absent =
      parse_model_config(with(mistral_7b_instruct_v03(), [](json& j) { j.erase("sliding_window"); }), kSource);
  EXPECT_EQ(absent.sliding_window, 4096);
  EXPECT_EQ(absent.attention_window(31), 4096);
  const ModelConfig v03 = parse_model_config(mistral_7b_instruct_v03(), kSource);
  for (int64_t layer : {0, 31}) EXPECT_EQ(v03.attention_window(layer), 0) << layer;
}

TEST(ModelConfig, Qwen2SlidesOnlyWithUseSlidingWindowFromMaxWindowLayersOn) {
  // Qwen2.5 ships sliding_window 131072 with use_sliding_window false: no layer slides.
  const ModelConfig off = parse_model_config(qwen25_7b_instruct(), kSource);
  for (int64_t layer : {0, 27}) EXPECT_EQ(off.attention_window(layer), 0) << layer;

  const ModelConfig on = parse_model_config(with(qwen25_7b_instruct(),
                                                 [](json& j) {
                                                   j["use_sliding_window"] = true;
                                                   j["sliding_window"] = 4096;
                                                   j["max_window_layers"] = 21;
                                                 }),
                                            kSource);
  EXPECT_EQ(on.sliding_window, 4096);
  for (int64_t layer = 0; layer < 28; ++layer) EXPECT_EQ(on.attention_window(layer), layer >= 21 ? 4096 : 0) << layer;

  // max_window_layers 28 (its own value, and Qwen2Config's default) leaves none of 28 layers sliding.
  const ModelConfig none =
      parse_model_config(with(qwen25_7b_instruct(), [](json& j) { j["use_sliding_window"] = true; }), kSource);
  EXPECT_EQ(none.sliding_window, 0);
  EXPECT_EQ(none.attention_window(27), 0);

  // layer_types, which transformers v5 writes, names each layer's kind and wins over max_window_layers.
  const ModelConfig typed =
      parse_model_config(with(qwen25_7b_instruct(),
                              [](json& j) {
                                j["use_sliding_window"] = true;
                                j["sliding_window"] = 1024;
                                j["layer_types"] = json::array();
                                for (int i = 0; i < 28; ++i)
                                  j["layer_types"].push_back(i % 2 ? "sliding_attention" : "full_attention");
                              }),
                         kSource);
  for (int64_t layer = 0; layer < 28; ++layer) EXPECT_EQ(typed.attention_window(layer), layer % 2 ? 1024 : 0) << layer;
}

TEST(ModelConfigErrors, SlidingWindowFieldsAreCheckedAndNamed) {
  const auto sliding = [](std::function<void(json&)> more) {
    return with(qwen25_7b_instruct(), [&](json& j) {
      j["use_sliding_window"] = true;
      j["sliding_window"] = 4096;
      more(j);
    });
  };
  const auto types = [](int n, const char* type) {
    json list = json::array();
    for (int i = 0; i < n; ++i) list.push_back(i == n - 1 ? type : "full_attention");
    return list;
  };
  expect_config_error(sliding([](json& j) { j["max_window_layers"] = -1; }),
                      {"field 'max_window_layers': -1 is out of range"});
  expect_config_error(sliding([](json& j) { j["sliding_window"] = 0; }), {"field 'sliding_window': 0 is out of range"});
  expect_config_error(sliding([&](json& j) { j["layer_types"] = types(27, "full_attention"); }),
                      {"field 'layer_types'", "is not a list of 28 layer types"});
  expect_config_error(
      sliding([&](json& j) { j["layer_types"] = types(28, "chunked_attention"); }),
      {"field 'layer_types': layer 27: \"chunked_attention\" is not supported", "full_attention, sliding_attention"});
  expect_config_error(with(qwen25_7b_instruct(), [&](json& j) { j["layer_types"] = types(28, "sliding_attention"); }),
                      {"field 'layer_types': layer 27 is sliding_attention but use_sliding_window is false"});
  expect_config_error(sliding([&](json& j) {
                        j["sliding_window"] = nullptr;
                        j["layer_types"] = types(28, "sliding_attention");
                      }),
                      {"field 'layer_types': layer 27 is sliding_attention but sliding_window is null"});
}

TEST(ModelConfig, ExplicitHeadDimNeedNotBeHiddenOverHeads) {
  // Mistral-Nemo: 5120 / 32 = 160, but the heads are 128 wide.
  const ModelConfig c = parse_model_config(with(mistral_7b_instruct_v03(),
                                                [](json& j) {
                                                  j["hidden_size"] = 5120;
                                                  j["head_dim"] = 128;
                                                }),
                                           kSource);
  EXPECT_EQ(c.head_dim, 128);
  // null means "not given", as in transformers.
  EXPECT_EQ(
      parse_model_config(with(mistral_7b_instruct_v03(), [](json& j) { j["head_dim"] = nullptr; }), kSource).head_dim,
      128);
}

TEST(ModelConfig, DefaultsForOptionalFields) {
  json j = qwen25_7b_instruct();
  for (const char* key : {"num_key_value_heads", "rms_norm_eps", "rope_theta", "tie_word_embeddings", "torch_dtype",
                          "bos_token_id", "eos_token_id", "model_type"})
    j.erase(key);
  const ModelConfig c = parse_model_config(j, kSource);
  EXPECT_EQ(c.num_key_value_heads, 28);
  EXPECT_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.torch_dtype, "");
  EXPECT_FALSE(c.bos_token_id.has_value());
  EXPECT_TRUE(c.eos_token_ids.empty());
  EXPECT_EQ(c.model_type, "qwen2");
}

// Issue 23, finding 5: every field that changes the math is read, as transformers reads it
// for the architecture, or refused; none is ignored. (The RoPE variants, head_dim, sizes and
// sliding windows have their own tests above and below.)
TEST(ModelConfig, EveryFieldThatChangesTheMathIsReadOrRefused) {
  // hidden_act: transformers' ACT2FN names of what tern computes; absent is SiLU.
  const std::pair<const char*, Activation> acts[] = {{"silu", Activation::kSilu},
                                                     {"swish", Activation::kSilu},
                                                     {"gelu", Activation::kGelu},
                                                     {"gelu_pytorch_tanh", Activation::kGeluTanh},
                                                     {"gelu_new", Activation::kGeluTanh}};
  for (const auto& [act_name, act] : acts) {
    const char* name = act_name;  // a lambda cannot capture a structured binding (clang 14)
    EXPECT_EQ(
        parse_model_config(with(llama31_8b_instruct(), [&](json& j) { j["hidden_act"] = name; }), kSource).hidden_act,
        act)
        << name;
  }
  EXPECT_EQ(parse_model_config(with(qwen25_7b_instruct(), [](json& j) { j.erase("hidden_act"); }), kSource).hidden_act,
            Activation::kSilu);
  for (const char* name : {"relu", "gelu_fast", "quick_gelu", "gelu_10", "tanh", "SiLU", ""}) {
    SCOPED_TRACE(name);
    expect_config_error(with(qwen25_7b_instruct(), [&](json& j) { j["hidden_act"] = name; }),
                        {"field 'hidden_act': '", name, "' is not supported (supported: silu, swish, gelu"});
  }
  expect_config_error(with(qwen25_7b_instruct(), [](json& j) { j["hidden_act"] = 3; }),
                      {"field 'hidden_act': 3 is not a string"});

  // Biases, per architecture: Qwen2's Q/K/V always, never its o_proj or MLP; Llama's
  // attention_bias covers Q/K/V and o_proj; Mistral has none whatever the file says.
  const ModelConfig qwen = parse_model_config(
      with(qwen25_7b_instruct(), [](json& j) { j["attention_bias"] = j["mlp_bias"] = true; }), kSource);
  EXPECT_TRUE(qwen.attention_bias);
  EXPECT_FALSE(qwen.o_proj_bias);
  EXPECT_FALSE(qwen.mlp_bias);
  const ModelConfig llama = parse_model_config(
      with(llama31_8b_instruct(), [](json& j) { j["attention_bias"] = j["mlp_bias"] = true; }), kSource);
  EXPECT_TRUE(llama.attention_bias && llama.o_proj_bias && llama.mlp_bias);
  const ModelConfig plain_llama = parse_model_config(llama31_8b_instruct(), kSource);
  EXPECT_FALSE(plain_llama.attention_bias || plain_llama.o_proj_bias || plain_llama.mlp_bias);
  const ModelConfig mistral = parse_model_config(
      with(mistral_7b_instruct_v03(), [](json& j) { j["attention_bias"] = j["mlp_bias"] = true; }), kSource);
  EXPECT_FALSE(mistral.attention_bias || mistral.o_proj_bias || mistral.mlp_bias);
  expect_config_error(with(llama31_8b_instruct(), [](json& j) { j["attention_bias"] = "yes"; }),
                      {"field 'attention_bias': \"yes\" is not true or false"});

  EXPECT_TRUE(parse_model_config(with(qwen25_7b_instruct(), [](json& j) { j["tie_word_embeddings"] = true; }), kSource)
                  .tie_word_embeddings);
}

TEST(ModelConfig, TransformersV5RopeParametersForm) {
  json j = llama31_8b_instruct();
  j.erase("rope_scaling");
  j.erase("rope_theta");
  j.erase("torch_dtype");
  j["dtype"] = "bfloat16";
  j["rope_parameters"] = {{"factor", 8.0},          {"high_freq_factor", 4.0},
                          {"low_freq_factor", 1.0}, {"original_max_position_embeddings", 8192},
                          {"rope_theta", 500000.0}, {"rope_type", "llama3"}};
  const ModelConfig c = parse_model_config(j, kSource);
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(c.torch_dtype, "bfloat16");

  json d = qwen25_7b_instruct();
  d.erase("rope_theta");
  d["rope_parameters"] = {{"rope_theta", 1000000.0}, {"rope_type", "default"}};
  const ModelConfig q = parse_model_config(d, kSource);
  EXPECT_EQ(q.rope_theta, 1e6);
  EXPECT_EQ(q.rope_scaling.type, RopeScalingType::kNone);
}

TEST(ModelConfig, RopeResolutionFollowsTransformers) {
  // rope_scaling, when non-empty, wins over rope_parameters; its rope_theta over the top level.
  json j = qwen25_7b_instruct();
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}, {"rope_theta", 20000.0}};
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 30000.0}};
  ModelConfig c = parse_model_config(j, kSource);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_EQ(c.rope_scaling.factor, 2.0);
  EXPECT_EQ(c.rope_theta, 20000.0);

  j["rope_scaling"] = json::object();
  EXPECT_EQ(parse_model_config(j, kSource).rope_theta, 30000.0);

  // llama3 / yarn default original_max_position_embeddings to max_position_embeddings, and
  // a top-level original_max_position_embeddings wins over the dict's.
  json y = qwen25_7b_instruct();
  y["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}};
  EXPECT_EQ(parse_model_config(y, kSource).rope_scaling.original_max_position_embeddings, 32768);
  y["rope_scaling"]["original_max_position_embeddings"] = 16384;
  EXPECT_EQ(parse_model_config(y, kSource).rope_scaling.original_max_position_embeddings, 16384);
  y["original_max_position_embeddings"] = 4096;
  EXPECT_EQ(parse_model_config(y, kSource).rope_scaling.original_max_position_embeddings, 4096);
}

TEST(ModelConfig, YarnAsQwenDocumentsIt) {
  json j = qwen25_7b_instruct();
  j["rope_scaling"] = {{"factor", 4.0}, {"original_max_position_embeddings", 32768}, {"type", "yarn"}};
  const RopeScaling r = parse_model_config(j, kSource).rope_scaling;
  EXPECT_EQ(r.type, RopeScalingType::kYarn);
  EXPECT_EQ(r.factor, 4.0);
  EXPECT_EQ(r.original_max_position_embeddings, 32768);
  EXPECT_EQ(r.beta_fast, 32.0);
  EXPECT_EQ(r.beta_slow, 1.0);
  EXPECT_FALSE(r.attention_factor.has_value());
  EXPECT_FALSE(r.mscale.has_value());
  EXPECT_TRUE(r.truncate);
}

TEST(ModelConfig, YarnOptionalFields) {
  json j = qwen25_7b_instruct();
  j["max_position_embeddings"] = 131072;
  // factor null: the context ratio; beta 0 means default (transformers reads them with `or`).
  j["rope_parameters"] = {{"rope_type", "yarn"},     {"factor", nullptr}, {"original_max_position_embeddings", 32768},
                          {"beta_fast", 0},          {"beta_slow", 2.0},  {"mscale", 0.707},
                          {"mscale_all_dim", 0.707}, {"truncate", false}, {"attention_factor", 1.5}};
  const RopeScaling r = parse_model_config(j, kSource).rope_scaling;
  EXPECT_EQ(r.factor, 4.0);
  EXPECT_EQ(r.beta_fast, 32.0);
  EXPECT_EQ(r.beta_slow, 2.0);
  EXPECT_EQ(r.mscale, 0.707);
  EXPECT_EQ(r.mscale_all_dim, 0.707);
  EXPECT_FALSE(r.truncate);
  EXPECT_EQ(r.attention_factor, 1.5);
}

TEST(ModelConfig, RemoteCodeHooksAreIgnored) {
  json j = qwen25_7b_instruct();
  j["auto_map"] = {{"AutoModelForCausalLM", "modeling_evil.EvilForCausalLM"}};
  j["trust_remote_code"] = true;
  EXPECT_EQ(parse_model_config(j, kSource).architecture, "Qwen2ForCausalLM");
}

TEST(ModelConfig, FixtureModelsLoadFromDisk) {
  struct Want {
    const char* dir;
    const char* model_type;
    RopeScalingType rope;
    int64_t head_dim;
  };
  for (const Want& w : {Want{"tiny-qwen2", "qwen2", RopeScalingType::kNone, 16},
                        Want{"tiny-qwen2-yarn", "qwen2", RopeScalingType::kYarn, 16},
                        Want{"tiny-llama3", "llama", RopeScalingType::kLlama3, 32},
                        Want{"tiny-llama-linear", "llama", RopeScalingType::kLinear, 16},
                        Want{"tiny-mistral", "mistral", RopeScalingType::kNone, 16}}) {
    SCOPED_TRACE(w.dir);
    const ModelConfig c = load_model_config(std::string(TERN_TEST_DATA) + "/models/" + w.dir);
    EXPECT_EQ(c.model_type, w.model_type);
    EXPECT_EQ(c.rope_scaling.type, w.rope);
    EXPECT_EQ(c.head_dim, w.head_dim);
    EXPECT_EQ(c.torch_dtype, "bfloat16");
  }
}

// ---- errors (docs/reliability.md, case E3) ----

TEST(ModelConfigErrors, ArchitectureMustBeSupported) {
  expect_config_error(json::array(), {"not a JSON object"});
  expect_config_error(with(qwen25_7b_instruct(), [](json& j) { j.erase("architectures"); }),
                      {"field 'architectures'", "missing", "Qwen2ForCausalLM, LlamaForCausalLM, MistralForCausalLM"});
  expect_config_error(with(qwen25_7b_instruct(), [](json& j) { j["architectures"] = {"Phi3ForCausalLM"}; }),
                      {"field 'architectures'", "'Phi3ForCausalLM' is not supported", "LlamaForCausalLM"});
  expect_config_error(with(qwen25_7b_instruct(), [](json& j) { j["architectures"] = "Qwen2ForCausalLM"; }),
                      {"field 'architectures'", "not a list"});
  expect_config_error(with(qwen25_7b_instruct(), [](json& j) { j["model_type"] = "llama"; }),
                      {"field 'model_type'", "does not match", "qwen2"});
}

TEST(ModelConfigErrors, SizesMustBeIntegersInRange) {
  struct Case {
    const char* field;
    json value;
    const char* expected;
  };
  const Case cases[] = {
      {"hidden_size", int64_t(1) << 40, "1099511627776 is out of range [1, 65536]"},
      {"hidden_size", 0, "0 is out of range"},
      {"hidden_size", 3584.0, "3584.0 is not an integer"},
      {"hidden_size", "3584", "\"3584\" is not an integer"},
      {"num_hidden_layers", 0, "0 is out of range [1, 1024]"},
      {"num_hidden_layers", -1, "-1 is out of range"},
      {"vocab_size", int64_t(1) << 25, "is out of range [1, 16777216]"},
      {"intermediate_size", uint64_t(1) << 63, "9223372036854775808 is out of range"},
      {"num_attention_heads", 2048, "is out of range [1, 1024]"},
      {"num_key_value_heads", 0, "0 is out of range"},
      {"max_position_embeddings", int64_t(1) << 62, "4611686018427387904 is out of range [1, 16777216]"},
      {"head_dim", 4096, "is out of range [1, 1024]"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    expect_config_error(with(qwen25_7b_instruct(), [&](json& j) { j[c.field] = c.value; }),
                        {std::string("field '") + c.field + "': ", c.expected});
  }
  for (const char* required : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                               "num_attention_heads", "max_position_embeddings"}) {
    SCOPED_TRACE(required);
    expect_config_error(with(qwen25_7b_instruct(), [&](json& j) { j.erase(required); }),
                        {std::string("field '") + required + "': is missing"});
  }
}

TEST(ModelConfigErrors, HeadCountsMustBeConsistent) {
  expect_config_error(with(qwen25_7b_instruct(), [](json& j) { j["num_key_value_heads"] = 8; }),
                      {"field 'num_key_value_heads': 8 does not divide num_attention_heads 28"});
  expect_config_error(with(qwen25_7b_instruct(), [](json& j) { j["hidden_size"] = 3585; }),
                      {"field 'hidden_size': 3585 is not divisible by num_attention_heads 28"});
  expect_config_error(with(qwen25_7b_instruct(), [](json& j) { j["head_dim"] = 127; }),
                      {"field 'head_dim': 127 is odd"});
}

TEST(ModelConfigErrors, OtherFieldsAreTypeAndRangeChecked) {
  const std::pair<std::function<void(json&)>, const char*> cases[] = {
      {[](json& j) { j["rms_norm_eps"] = 0; }, "field 'rms_norm_eps': 0 must be > 0"},
      {[](json& j) { j["rms_norm_eps"] = 2.0; }, "field 'rms_norm_eps': 2 must be < 1"},
      {[](json& j) { j["rms_norm_eps"] = "1e-6"; }, "field 'rms_norm_eps': \"1e-6\" is not a number"},
      {[](json& j) { j["rope_theta"] = 1.0; }, "field 'rope_theta': 1.0 must be > 1"},
      {[](json& j) { j["tie_word_embeddings"] = 1; }, "field 'tie_word_embeddings': 1 is not true or false"},
      {[](json& j) { j["torch_dtype"] = 16; }, "field 'torch_dtype': 16 is not a string"},
      {[](json& j) { j["eos_token_id"] = 152064; }, "field 'eos_token_id': 152064 is out of range [0, 152063]"},
      {[](json& j) {
         j["eos_token_id"] = {1, "2"};
       },
       "field 'eos_token_id': \"2\" is not an integer"},
      {[](json& j) { j["bos_token_id"] = -1; }, "field 'bos_token_id': -1 is out of range"},
      {[](json& j) { j["partial_rotary_factor"] = 0.5; }, "field 'partial_rotary_factor': 0.5 is not supported"},
  };
  for (const auto& [change, expected] : cases) {
    SCOPED_TRACE(expected);
    expect_config_error(with(qwen25_7b_instruct(), change), {expected});
  }
  expect_config_error(with(qwen25_7b_instruct(), [](json& j) { j["use_sliding_window"] = 1; }),
                      {"field 'use_sliding_window': 1 is not true or false"});
  expect_config_error(with(mistral_7b_instruct_v03(), [](json& j) { j["sliding_window"] = 0; }),
                      {"field 'sliding_window': 0 is out of range"});
  expect_config_error(with(mistral_7b_instruct_v03(), [](json& j) { j["sliding_window"] = "4096"; }),
                      {"field 'sliding_window'", "not an integer"});
}

TEST(ModelConfigErrors, UnsupportedRopeTypesListTheSupportedOnes) {
  for (const char* type : {"dynamic", "longrope", "su", "ntk-by-parts"}) {
    SCOPED_TRACE(type);
    expect_config_error(
        with(qwen25_7b_instruct(),
             [&](json& j) {
               j["rope_scaling"] = {{"type", type}, {"factor", 2.0}};
             }),
        {"field 'rope_scaling.type': '", type, "' is not supported (supported: default, linear, llama3, yarn)"});
    expect_config_error(with(qwen25_7b_instruct(),
                             [&](json& j) {
                               j["rope_parameters"] = {{"rope_type", type}, {"factor", 2.0}};
                             }),
                        {"field 'rope_parameters.rope_type': '", type, "' is not supported"});
  }
}

TEST(ModelConfigErrors, MalformedRopeParameters) {
  const std::pair<json, const char*> cases[] = {
      {"linear", "field 'rope_scaling': \"linear\" is not an object"},
      {{{"type", "linear"}}, "field 'rope_scaling.factor': is missing"},
      {{{"type", "linear"}, {"factor", 0}}, "field 'rope_scaling.factor': 0 must be > 0"},
      {{{"type", 3}}, "field 'rope_scaling.type': 3 is not a string"},
      {{{"rope_type", "llama3"}, {"factor", 8.0}, {"high_freq_factor", 4.0}},
       "field 'rope_scaling.low_freq_factor': is missing"},
      {{{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 4.0}, {"high_freq_factor", 4.0}},
       "field 'rope_scaling.high_freq_factor': 4 must exceed low_freq_factor 4"},
      {{{"rope_type", "yarn"}, {"original_max_position_embeddings", 4096}}, "field 'rope_scaling.factor': is missing"},
      {{{"rope_type", "yarn"}, {"factor", 4.0}, {"beta_fast", -1}}, "field 'rope_scaling.beta_fast': -1 must be >= 0"},
      {{{"rope_type", "yarn"}, {"factor", 4.0}, {"truncate", "no"}},
       "field 'rope_scaling.truncate': \"no\" is not true or false"},
      {{{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 0}},
       "field 'rope_scaling.original_max_position_embeddings': 0 is out of range"},
      {{{"full_attention", {{"rope_type", "default"}}}},
       "field 'rope_scaling.full_attention': per-layer RoPE parameters are not supported"},
      {{{"rope_type", "default"}, {"partial_rotary_factor", 0.5}},
       "field 'rope_scaling.partial_rotary_factor': 0.5 is not supported"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.second);
    expect_config_error(with(qwen25_7b_instruct(), [&](json& j) { j["rope_scaling"] = c.first; }), {c.second});
  }
}

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "tern_config_XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& text) { std::ofstream(dir_ + "/config.json") << text; }
  std::string dir_;
};

TEST_F(ConfigFile, LoadsFromAFolder) {
  write(qwen25_7b_instruct().dump(2));
  EXPECT_EQ(load_model_config(dir_).hidden_size, 3584);
}

TEST_F(ConfigFile, FileErrorsNameThePath) {
  const std::string path = dir_ + "/config.json";
  expect_contains(error_of([&] { load_model_config(dir_); }), {path, "cannot open"});
  write(R"({"hidden_size": 1, "hidden_size": 3584})");
  expect_contains(error_of([&] { load_model_config(dir_); }), {path, "key 'hidden_size' appears twice"});
  write(std::string(100000, '[') + std::string(100000, ']'));
  expect_contains(error_of([&] { load_model_config(dir_); }), {path, "nested deeper than"});
  write("{\"architectures\": [\"Qwen2ForCausalLM\"],");
  expect_contains(error_of([&] { load_model_config(dir_); }), {path, "not valid JSON"});
  write(with(qwen25_7b_instruct(), [](json& j) { j["num_key_value_heads"] = 8; }).dump());
  expect_contains(error_of([&] { load_model_config(dir_); }),
                  {path + ": field 'num_key_value_heads': 8 does not divide num_attention_heads 28"});
}

}  // namespace
}  // namespace tern
