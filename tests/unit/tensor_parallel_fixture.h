// Helpers for the tensor-parallel tests: random-weight model folders of any shape (odd
// vocabularies, biases, INT4 with plain or act-order groups, FP8), and a model loaded on a
// group of CPU ranks joined by the in-process communicator.
#pragma once

#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/communicator.h"
#include "base/rank_threads.h"
#include "model/load_model.h"
#include "quant/fp8_weight.h"
#include "quant/packed_linear.h"
#include "quant/quant_config.h"
#include "quant/safetensors_writer.h"
#include "quant_fixture.h"
#include "runner/model_runner.h"
#include "tensor/convert.h"

namespace tern::tp_test {

namespace fs = std::filesystem;
inline const fs::path kData = TERN_TEST_DATA;

struct RandomModelSpec {
  std::string model_type = "qwen2";  // qwen2: Q/K/V biases; llama: attention_bias (Q/K/V and o_proj) and mlp_bias
  int64_t vocab_size = 1001;         // odd: the vocabulary slices are uneven
  int64_t hidden_size = 40;
  int64_t intermediate_size = 128;
  int64_t num_layers = 2;
  int64_t num_heads = 8;
  int64_t num_kv_heads = 4;
  int64_t head_dim = 16;
  bool tie_word_embeddings = false;
  int64_t int4_group_size = 0;  // 0: dense; else every projection GPTQ INT4 in groups of this
                                // many inputs (-1: one group per row)
  bool act_order = false;       // INT4 with g_idx (desc_act)
  bool awq = false;             // INT4 stored as AWQ (GEMM, zero points) instead of GPTQ
  bool fp8 = false;             // every projection FP8 (compressed-tensors, dynamic activations)
  int64_t fp8_block = 0;        // with fp8: 0 for per-channel scales, else square blocks of this size
  bool fp8_lm_head = false;     // with fp8 (per-channel): lm_head in FP8 too
  uint32_t seed = 7;
};

inline void PrintTo(const RandomModelSpec& s, std::ostream* os) {
  *os << s.model_type << " vocab " << s.vocab_size << " hidden " << s.hidden_size << " intermediate "
      << s.intermediate_size << " heads " << s.num_heads << "/" << s.num_kv_heads
      << (s.tie_word_embeddings ? " tied" : "") << " int4 group " << s.int4_group_size
      << (s.act_order ? " act-order" : "") << (s.awq ? " awq" : "") << (s.fp8 ? " fp8 block " : "")
      << (s.fp8 ? std::to_string(s.fp8_block) : "");
}

// Writes config.json and model.safetensors (BF16 weights, F32 where INT4 has none) for
// a random-weight model into `dir`.
inline void write_random_model(const std::string& dir, const RandomModelSpec& s) {
  std::mt19937 rng(s.seed);
  std::map<std::string, Tensor> tensors;
  auto random = [&](std::initializer_list<int64_t> shape, float scale, float offset = 0.0f) {
    Tensor t = host_tensor(DType::kF32, shape);
    std::uniform_real_distribution<float> u(-scale, scale);
    for (int64_t i = 0; i < t.numel(); ++i) t.ptr<float>()[i] = offset + u(rng);
    return convert_host(t, DType::kBF16);
  };
  const bool qwen = s.model_type == "qwen2";
  const bool llama_bias = !qwen;  // the llama model exercises attention_bias and mlp_bias
  const int64_t h = s.hidden_size, q = s.num_heads * s.head_dim, kv = s.num_kv_heads * s.head_dim;
  uint32_t int4_seed = s.seed * 1000;
  // `input` names the activation a layer reads: layers that share one (Q/K/V, gate/up) share
  // their act-order grouping, as GPTQ makes them.
  auto linear = [&](const std::string& module, int64_t out, int64_t in, bool bias, uint32_t input) {
    if (s.int4_group_size != 0) {
      const int64_t group = s.int4_group_size > 0 ? s.int4_group_size : in;
      Int4Weight w = quant_test::random_int4(out, in, group, int4_seed++);
      if (s.act_order) w.group_index = quant_test::random_int4(1, in, group, s.seed + input, true).group_index;
      const PackedLinear p = s.awq ? quant_test::pack_awq_for_test(w) : pack_gptq(w, GptqFormat::kV1);
      tensors[module + ".qweight"] = p.qweight;
      tensors[module + ".qzeros"] = p.qzeros;
      tensors[module + ".scales"] = p.scales;
      if (!s.awq) tensors[module + ".g_idx"] = p.g_idx;
    } else if (s.fp8) {
      Tensor dense = host_tensor(DType::kF32, {out, in});
      std::normal_distribution<float> d(0.0f, 1.0f / std::sqrt(float(in)));
      for (int64_t i = 0; i < dense.numel(); ++i) dense.ptr<float>()[i] = d(rng);
      const Fp8Weight w = quantize_fp8(dense, s.fp8_block, s.fp8_block);
      tensors[module + ".weight"] = w.values;
      tensors[module + ".weight_scale"] = s.fp8_block ? w.scales : w.scales.reshape({out, 1});
    } else {
      tensors[module + ".weight"] = random({out, in}, 1.0f / std::sqrt(float(in)));
    }
    if (bias) tensors[module + ".bias"] = random({out}, 0.2f);
  };
  tensors["model.embed_tokens.weight"] = random({s.vocab_size, h}, 1.0f);
  for (int64_t i = 0; i < s.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    tensors[p + "input_layernorm.weight"] = random({h}, 0.2f, 1.0f);
    tensors[p + "post_attention_layernorm.weight"] = random({h}, 0.2f, 1.0f);
    const uint32_t layer = 10 * uint32_t(i);
    linear(p + "self_attn.q_proj", q, h, true, layer + 1);
    linear(p + "self_attn.k_proj", kv, h, true, layer + 1);
    linear(p + "self_attn.v_proj", kv, h, true, layer + 1);
    linear(p + "self_attn.o_proj", h, q, llama_bias, layer + 2);
    linear(p + "mlp.gate_proj", s.intermediate_size, h, llama_bias, layer + 3);
    linear(p + "mlp.up_proj", s.intermediate_size, h, llama_bias, layer + 3);
    linear(p + "mlp.down_proj", h, s.intermediate_size, llama_bias, layer + 4);
  }
  tensors["model.norm.weight"] = random({h}, 0.2f, 1.0f);
  if (!s.tie_word_embeddings) tensors["lm_head.weight"] = random({s.vocab_size, h}, 0.5f);
  if (s.fp8_lm_head) {
    const Fp8Weight head = quantize_fp8(tensors.at("lm_head.weight"));
    tensors["lm_head.weight"] = head.values;
    tensors["lm_head.weight_scale"] = head.scales.reshape({s.vocab_size, 1});
  }
  fs::create_directories(dir);
  write_safetensors(dir + "/model.safetensors", tensors);

  nlohmann::json config = {{"architectures", {qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM"}},
                           {"model_type", s.model_type},
                           {"vocab_size", s.vocab_size},
                           {"hidden_size", h},
                           {"intermediate_size", s.intermediate_size},
                           {"num_hidden_layers", s.num_layers},
                           {"num_attention_heads", s.num_heads},
                           {"num_key_value_heads", s.num_kv_heads},
                           {"head_dim", s.head_dim},
                           {"max_position_embeddings", 512},
                           {"rms_norm_eps", 1e-6},
                           {"rope_theta", 10000.0},
                           {"tie_word_embeddings", s.tie_word_embeddings}};
  if (!qwen) config["attention_bias"] = config["mlp_bias"] = true;
  if (s.fp8) {
    nlohmann::json q = fp8_config_json();
    if (s.fp8_block) {
      q["config_groups"]["group_0"]["weights"]["strategy"] = "block";
      q["config_groups"]["group_0"]["weights"]["block_structure"] = {s.fp8_block, s.fp8_block};
      q["config_groups"]["group_0"]["input_activations"]["strategy"] = "group";
      q["config_groups"]["group_0"]["input_activations"]["group_size"] = s.fp8_block;
    }
    config["quantization_config"] = q;
  } else if (s.int4_group_size != 0 && s.awq)
    config["quantization_config"] = {{"quant_method", "awq"},
                                     {"bits", 4},
                                     {"group_size", s.int4_group_size},
                                     {"zero_point", true},
                                     {"version", "gemm"}};
  else if (s.int4_group_size != 0)
    config["quantization_config"] = {{"quant_method", "gptq"},  {"bits", 4},    {"group_size", s.int4_group_size},
                                     {"desc_act", s.act_order}, {"sym", false}, {"checkpoint_format", "gptq"}};
  std::ofstream(dir + "/config.json") << config.dump(2);
}

// A model folder loaded on `size` CPU ranks, each with its own backend and shard.
struct CpuGroup {
  std::vector<std::unique_ptr<Backend>> backends;
  std::vector<std::unique_ptr<Communicator>> comms;
  std::unique_ptr<RankThreads> threads;
  std::vector<std::unique_ptr<LlamaModel>> models;

  std::vector<const LlamaModel*> model_ptrs() const {
    std::vector<const LlamaModel*> out;
    for (const auto& m : models) out.push_back(m.get());
    return out;
  }
  // Moves everything into a runner; the group is empty afterwards.
  std::unique_ptr<ModelRunner> into_runner(const ModelRunnerConfig& config) {
    std::vector<ModelRank> ranks(models.size());
    for (size_t r = 0; r < models.size(); ++r) {
      ranks[r].backend = std::move(backends[r]);
      if (!comms.empty()) ranks[r].comm = std::move(comms[r]);
      ranks[r].model = std::move(models[r]);
    }
    return std::make_unique<ModelRunner>(std::move(ranks), config, std::move(threads));
  }
};

inline CpuGroup load_cpu_group(const std::string& dir, int size) {
  CpuGroup g;
  std::vector<Backend*> backends;
  for (int r = 0; r < size; ++r) {
    g.backends.push_back(make_backend("cpu"));
    backends.push_back(g.backends.back().get());
  }
  if (size > 1) g.comms = make_communicators(backends);
  std::vector<Communicator*> comms;
  for (auto& c : g.comms) comms.push_back(c.get());
  g.threads = std::make_unique<RankThreads>(size);
  g.models = load_model_shards(dir, backends, comms, *g.threads);
  return g;
}

// Logits at every position of `ids` for the model in `dir` split over `size` CPU ranks.
inline std::vector<float> group_logits(const std::string& dir, int size, const std::vector<int32_t>& ids) {
  CpuGroup g = load_cpu_group(dir, size);
  return testing::prompt_logits(g.model_ptrs(), *g.threads, ids);
}

}  // namespace tern::tp_test
