#include "quantize/quantize_model.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "base/error.h"
#include "base/log.h"
#include "model/config.h"
#include "model/json_file.h"
#include "model/safetensors.h"
#include "quant/fp8_weight.h"
#include "quant/gptq.h"
#include "quant/checkpoint_writer.h"
#include "quant/quant_config.h"
#include "quant/rtn.h"
#include "quantize/calibration_text.h"
#include "quantize/gptq_calibration.h"
#include "tensor/convert.h"

namespace tern {
namespace {

constexpr double kDampPercent = 0.01;
constexpr int64_t kCalibrationSeqLen = 512;  // tokens per calibration sequence

// The seven projections of a decoder layer, in the order GPTQ quantises them.
enum Proj { kQ, kK, kV, kO, kGate, kUp, kDown, kNumProj };
constexpr const char* kProjNames[kNumProj] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                              "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                              "mlp.down_proj"};

std::string module_name(int64_t layer, int proj) {
  return "model.layers." + std::to_string(layer) + "." + kProjNames[proj];
}

// Rows of a dense projection's weight [out, in] as config.json implies them.
std::pair<int64_t, int64_t> proj_shape(const ModelConfig& c, int proj) {
  const int64_t q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  switch (proj) {
    case kQ:
      return {q, c.hidden_size};
    case kK:
    case kV:
      return {kv, c.hidden_size};
    case kO:
      return {c.hidden_size, q};
    case kGate:
    case kUp:
      return {c.intermediate_size, c.hidden_size};
    default:
      return {c.hidden_size, c.intermediate_size};
  }
}

const char* method_name(QuantizeMethod m) {
  return m == QuantizeMethod::kRtn ? "rtn" : m == QuantizeMethod::kGptq ? "gptq" : "fp8";
}

void validate_options(const QuantizeModelOptions& o, const ModelConfig& c) {
  if (c.quantization) throw error(o.model_dir, "/config.json: the model is already quantized");
  if (o.method == QuantizeMethod::kFp8) {
    if (o.bits != 0 && o.bits != 8)
      throw error("quantize: --bits ", o.bits, " does not go with --method fp8 (8 bits)");
    if (o.sym || o.desc_act || !o.calibration.empty())
      throw error("quantize: --sym, --desc-act and --calibration apply to the 4-bit methods, not fp8");
    return;
  }
  if (o.bits != 0 && o.bits != 4)
    throw error("quantize: --bits ", o.bits, " is not supported (rtn and gptq write 4-bit GPTQ; fp8 writes 8 bits)");
  if (o.method == QuantizeMethod::kRtn && o.desc_act)
    throw error("quantize: --desc-act needs --method gptq (it orders by the Hessian)");
  if (o.method == QuantizeMethod::kRtn && !o.calibration.empty())
    throw error("quantize: --calibration needs --method gptq");
  if (o.group_size != -1 && o.group_size < 1) throw error("quantize: --group-size must be -1 or positive");
  for (int p = 0; p < kNumProj; ++p) {
    const auto [rows, cols] = proj_shape(c, p);
    if (o.group_size > 0 && cols % o.group_size != 0)
      throw error("quantize: --group-size ", o.group_size, " does not divide the ", cols, " inputs of ", kProjNames[p],
                  "; choose a group size that divides ", c.hidden_size, ", ", c.intermediate_size, " and ",
                  c.num_attention_heads * c.head_dim, ", or -1");
    if (rows % 8 != 0 || cols % 8 != 0)
      throw error("quantize: ", kProjNames[p], " is ", rows, " x ", cols,
                  "; GPTQ packing needs both dimensions to be multiples of 8");
  }
}

// One decoder layer being quantised: its projections as stored, their quantised versions
// so far, and the layer in the fused form the decoder layer runs (norms from the start,
// each projection once its parts are quantised).
struct LayerQuant {
  Tensor weight[kNumProj];
  Tensor bias[kNumProj];
  Int4Weight quantized[kNumProj];
  LayerWeights fused;
};

// Biases of the parts as one F32 host tensor, or empty.
Tensor concat_biases(const LayerQuant& l, std::initializer_list<int> parts) {
  int64_t n = 0;
  for (int p : parts) {
    if (l.bias[p].empty()) return Tensor{};
    n += l.bias[p].numel();
  }
  Tensor out = host_tensor(DType::kF32, {n});
  int64_t at = 0;
  for (int p : parts) {
    read_as_f32(l.bias[p], 0, l.bias[p].numel(), out.ptr<float>() + at);
    at += l.bias[p].numel();
  }
  return out;
}

LinearWeight int4_linear(const LayerQuant& l, std::initializer_list<int> parts) {
  std::vector<Int4Weight> weights;
  std::vector<std::string> names;
  for (int p : parts) {
    weights.push_back(l.quantized[p]);
    names.push_back(kProjNames[p]);
  }
  LinearWeight w;
  w.int4 = weights.size() == 1 ? weights[0] : concat_int4_outputs(weights, names);
  w.bias = concat_biases(l, parts);
  return w;
}

class Quantizer {
 public:
  Quantizer(const QuantizeModelOptions& o, const ModelConfig& c, const WeightStore& store)
      : o_(o), c_(c), store_(store) {
    gptq_.quant = QuantizeOptions{.group_size = o.group_size, .sym = o.sym};
    gptq_.act_order = o.desc_act;
    gptq_.damp_percent = kDampPercent;
  }

  // Quantises every decoder layer, handing each result to `writer`.
  void run(CheckpointWriter& writer) {
    std::unique_ptr<Backend> backend;
    std::unique_ptr<GptqCalibration> calibration;
    if (o_.method == QuantizeMethod::kGptq) {
      backend = make_backend("cpu");
      auto sequences =
          calibration_sequences(o_.calibration, o_.model_dir, std::min(kCalibrationSeqLen, c_.max_position_embeddings));
      calibration = std::make_unique<GptqCalibration>(c_, store_, *backend, std::move(sequences));
      log_info("quantize: GPTQ calibration on ", calibration->num_tokens(), " tokens");
    }
    for (int64_t i = 0; i < c_.num_hidden_layers; ++i) {
      const auto start = std::chrono::steady_clock::now();
      LayerQuant l = load_layer(i);
      if (o_.method == QuantizeMethod::kFp8) {
        for (int p = 0; p < kNumProj; ++p) writer.add_linear(module_name(i, p), quantize_fp8(l.weight[p]), l.bias[p]);
        log_info("quantize: layer ", i + 1, "/", c_.num_hidden_layers, " done");
        continue;
      }
      if (calibration)
        quantize_gptq_layer(*calibration, l);
      else
        for (int p = 0; p < kNumProj; ++p) l.quantized[p] = quantize_rtn(l.weight[p], gptq_.quant);
      for (int p = 0; p < kNumProj; ++p) writer.add_linear(module_name(i, p), l.quantized[p], l.bias[p]);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      log_info("quantize: layer ", i + 1, "/", c_.num_hidden_layers, " done in ", seconds, " s");
    }
  }

 private:
  LayerQuant load_layer(int64_t i) const {
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    LayerQuant l;
    l.fused.input_norm = store_.get(prefix + "input_layernorm.weight");
    l.fused.post_attention_norm = store_.get(prefix + "post_attention_layernorm.weight");
    for (int p = 0; p < kNumProj; ++p) {
      const std::string name = module_name(i, p);
      l.weight[p] = store_.get(name + ".weight");
      const auto [rows, cols] = proj_shape(c_, p);
      if (l.weight[p].ndim != 2 || l.weight[p].dim(0) != rows || l.weight[p].dim(1) != cols)
        throw error(store_.file_of(name + ".weight"), ": tensor '", name, ".weight': shape ", l.weight[p].shape_str(),
                    " but config.json implies [", rows, ", ", cols, "]");
      // Kept whenever the checkpoint has one (also o_proj's under Llama's attention_bias).
      if (store_.has(name + ".bias")) l.bias[p] = store_.get(name + ".bias");
    }
    return l;
  }

  // True-sequential GPTQ: each group of projections sees inputs computed with the groups
  // before it already quantised.
  void quantize_gptq_layer(GptqCalibration& calibration, LayerQuant& l) const {
    const HessianAccumulator h_qkv = calibration.hessian(l.fused, Projection::kQkv);
    for (int p : {kQ, kK, kV}) l.quantized[p] = quantize_gptq(l.weight[p], h_qkv, gptq_);
    l.fused.qkv = int4_linear(l, {kQ, kK, kV});
    l.quantized[kO] = quantize_gptq(l.weight[kO], calibration.hessian(l.fused, Projection::kOProj), gptq_);
    l.fused.o_proj = int4_linear(l, {kO});
    const HessianAccumulator h_mlp = calibration.hessian(l.fused, Projection::kGateUp);
    for (int p : {kGate, kUp}) l.quantized[p] = quantize_gptq(l.weight[p], h_mlp, gptq_);
    l.fused.gate_up = int4_linear(l, {kGate, kUp});
    l.quantized[kDown] = quantize_gptq(l.weight[kDown], calibration.hessian(l.fused, Projection::kDown), gptq_);
    l.fused.down = int4_linear(l, {kDown});
    calibration.advance(l.fused);
  }

  const QuantizeModelOptions& o_;
  const ModelConfig& c_;
  const WeightStore& store_;
  GptqOptions gptq_;
};

}  // namespace

void quantize_model(const QuantizeModelOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  const std::string config_path = o.model_dir + "/config.json";
  const nlohmann::json config_json = load_json_file(config_path, 16u << 20);
  const ModelConfig c = parse_model_config(config_json, config_path);
  validate_options(o, c);
  const WeightStore store = WeightStore::open(o.model_dir);

  CheckpointWriter writer(config_json, o.method == QuantizeMethod::kFp8
                                          ? fp8_config_json()
                                          : gptq_config_json(o.group_size, o.sym, o.desc_act, kDampPercent));
  Quantizer(o, c, store).run(writer);
  // Everything that is not a decoder projection (embeddings, norms, lm_head) stays as stored.
  std::set<std::string> projections;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    for (int p = 0; p < kNumProj; ++p) {
      projections.insert(module_name(i, p) + ".weight");
      projections.insert(module_name(i, p) + ".bias");
    }
  }
  for (const std::string& name : store.names()) {
    if (!projections.count(name)) writer.add_tensor(name, store.get(name));
  }
  writer.write(o.out_dir, o.model_dir);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (o.method == QuantizeMethod::kFp8)
    log_info("quantize: wrote ", o.out_dir, " (fp8 e4m3, per-channel weight scales, dynamic per-token activations) in ",
             seconds, " s");
  else
    log_info("quantize: wrote ", o.out_dir, " (", method_name(o.method), ", group size ", o.group_size,
             o.sym ? ", sym" : ", asym", o.desc_act ? ", desc_act" : "", ") in ", seconds, " s");
}

}  // namespace tern
