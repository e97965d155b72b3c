// tern quantize: writes a 4-bit GPTQ-format copy of a dense model folder that tern and
// transformers both load. --method rtn rounds every group to its nearest grid point;
// --method gptq runs the model forward on calibration text, layer by layer on the CPU
// backend, and quantises each linear layer with GPTQ against the Hessian of its inputs.
//
// The calibration pass lives here rather than in src/quant/ because it needs the model
// (config, weights, RoPE) and the backend op table, which sit above quant/. It mirrors
// LlamaModel::forward one decoder layer at a time and is "true sequential" as in
// AutoGPTQ: each projection's inputs are computed with the projections before it already
// quantised. Only the residual stream of the calibration tokens ([tokens, hidden] F32)
// and one layer's Hessians are held at once, so a 7B model fits in host memory.
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "app/commands.h"
#include "backend/backend.h"
#include "base/error.h"
#include "base/log.h"
#include "model/config.h"
#include "model/rope.h"
#include "model/safetensors.h"
#include "model/strict_json.h"
#include "quant/gptq.h"
#include "quant/gptq_checkpoint.h"
#include "quant/quant_config.h"
#include "quant/rtn.h"
#include "tensor/convert.h"
#include "tokenizer/tokenizer.h"

namespace tern::app {
namespace {

struct QuantizeCommandOptions {
  std::string model_dir;
  std::string out_dir;
  std::string method = "gptq";
  int64_t group_size = 128;
  bool sym = false;
  bool desc_act = false;
  std::string calibration;  // text file; empty: kBuiltinCalibration
  int bits = 4;
};

constexpr double kDampPercent = 0.01;
constexpr int64_t kCalibrationSeqLen = 512;  // tokens per calibration sequence
constexpr int32_t kBlockSize = 16;

// A short default calibration text in the three kinds of text the demo model serves.
constexpr const char* kBuiltinCalibration = R"(The river town woke slowly. Fishermen pulled their boats onto the
gravel, the baker opened her shutters, and a delivery van reversed into the square with its warning beeper
sounding. By eight o'clock the market was full: apples from the hills, cheese wrapped in paper, bundles of
mint, and a man selling secondhand books from the back of a bicycle. Visitors asked for directions to the old
bridge, which was built in 1742 and survived two floods, one war and a great deal of traffic.

Good documentation answers three questions: what does this do, how do I use it, and what happens when it
fails? A function that returns an error code should say which codes are possible. A configuration option
should state its unit, its default and its range. Examples are worth more than paragraphs, but an example
that does not compile is worse than none.

今天的天气很好，我们决定去公园散步。公园里有很多人，有的在跑步，有的在打太极拳，还有孩子们在草地上放风筝。
湖边的柳树已经发芽了，风一吹，细长的枝条轻轻摆动。我们在长椅上坐了一会儿，聊起了最近读的书和明年的旅行计划。
学习一门新的编程语言时，最好的方法是动手写一些小程序，然后逐步增加难度，遇到问题时查阅文档并认真思考原因。

def merge_intervals(intervals):
    """Merge overlapping [start, end] intervals and return them sorted."""
    result = []
    for start, end in sorted(intervals):
        if result and start <= result[-1][1]:
            result[-1][1] = max(result[-1][1], end)
        else:
            result.append([start, end])
    return result

#include <vector>
int sum_of_squares(const std::vector<int>& values) {
  int total = 0;
  for (int v : values) total += v * v;
  return total;
}

SELECT customer_id, COUNT(*) AS orders FROM orders WHERE created_at >= '2024-01-01'
GROUP BY customer_id HAVING COUNT(*) > 3 ORDER BY orders DESC;
)";

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

void validate_options(const QuantizeCommandOptions& o, const ModelConfig& c) {
  if (o.bits != 4) throw error("quantize: --bits ", o.bits, " is not supported (tern writes 4-bit GPTQ only)");
  if (c.quantization) throw error(o.model_dir, "/config.json: the model is already quantized");
  if (o.method == "rtn" && o.desc_act)
    throw error("quantize: --desc-act needs --method gptq (it orders by the Hessian)");
  if (o.method == "rtn" && !o.calibration.empty()) throw error("quantize: --calibration needs --method gptq");
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

std::vector<std::vector<int32_t>> calibration_sequences(const QuantizeCommandOptions& o, const ModelConfig& c) {
  std::string text = kBuiltinCalibration;
  if (!o.calibration.empty()) {
    std::ifstream f(o.calibration, std::ios::binary);
    if (!f) throw error(o.calibration, ": cannot open the calibration text");
    std::ostringstream s;
    s << f.rdbuf();
    text = s.str();
  }
  const std::vector<int32_t> ids = Tokenizer::load(o.model_dir)->encode(text, /*add_special_tokens=*/true);
  if (ids.size() < 16) throw error("quantize: the calibration text gives only ", ids.size(), " tokens");
  const size_t len = size_t(std::min(kCalibrationSeqLen, c.max_position_embeddings));
  std::vector<std::vector<int32_t>> sequences;
  for (size_t i = 0; i < ids.size(); i += len)
    sequences.emplace_back(ids.begin() + i, ids.begin() + std::min(ids.size(), i + len));
  return sequences;
}

// One layer's state during GPTQ: dense inputs, and the quantised layers so far.
struct LayerQuant {
  int64_t index = 0;  // the decoder layer
  Tensor input_norm, post_norm;
  Tensor weight[kNumProj];
  Tensor bias[kNumProj];
  Int4Weight quantized[kNumProj];
  LinearWeight qkv, o_proj, gate_up, down;  // built as their parts are quantised
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

// Runs the decoder layers over the calibration tokens on the CPU backend, layer by layer.
class CalibrationPass {
 public:
  // How far into the layer run_chunk goes: to the inputs of a group of projections
  // (whose Hessian it accumulates), or through the whole layer (updating the residual).
  enum class Stage { kQkv, kO, kGateUp, kDown, kOutput };

  CalibrationPass(const ModelConfig& config, const WeightStore& store, Backend& backend,
                  std::vector<std::vector<int32_t>> sequences)
      : c_(config), be_(backend), sequences_(std::move(sequences)) {
    RopeInit init = compute_rope(c_);
    rope_.inv_freq = host_tensor(DType::kF32, {int64_t(init.inv_freq.size())});
    std::copy(init.inv_freq.begin(), init.inv_freq.end(), rope_.inv_freq.ptr<float>());
    rope_.attention_scaling = init.attention_scaling;
    shape_ = AttentionShape{.num_q_heads = int(c_.num_attention_heads),
                            .num_kv_heads = int(c_.num_key_value_heads),
                            .head_dim = int(c_.head_dim),
                            .scale = float(1.0 / std::sqrt(double(c_.head_dim)))};
    int64_t total = 0, longest = 0;
    for (const auto& s : sequences_) {
      starts_.push_back(total);
      total += int64_t(s.size());
      longest = std::max(longest, int64_t(s.size()));
    }
    allocate(total, longest);
    const Tensor embed = store.get("model.embed_tokens.weight");
    for (size_t s = 0; s < sequences_.size(); ++s) {
      const int64_t t = int64_t(sequences_[s].size());
      Tensor ids = make_view(sequences_[s].data(), DType::kI32, Device::kCpu, {t});
      be_.embedding(ids, embed, residual_.slice_rows(starts_[s], starts_[s] + t));
    }
  }

  int64_t num_tokens() const { return residual_.rows(); }

  // Accumulates the Hessian of the inputs at `stage` over all calibration tokens.
  HessianAccumulator hessian(const LayerQuant& l, Stage stage, int64_t in_features) {
    HessianAccumulator h(in_features);
    for (size_t s = 0; s < sequences_.size(); ++s) run_chunk(l, s, stage, &h);
    return h;
  }

  // Replaces the residual stream with the layer's output (quantised weights).
  void advance(const LayerQuant& l) {
    for (size_t s = 0; s < sequences_.size(); ++s) run_chunk(l, s, Stage::kOutput, nullptr);
  }

 private:
  void allocate(int64_t total, int64_t longest) {
    const int64_t h = c_.hidden_size, q = c_.num_attention_heads * c_.head_dim;
    const int64_t qkv = q + 2 * c_.num_key_value_heads * c_.head_dim;
    residual_ = be_.alloc(DType::kF32, {total, h});
    sum_ = be_.alloc(DType::kF32, {longest, h});
    normed_ = be_.alloc(DType::kF32, {longest, h});
    hidden_ = be_.alloc(DType::kF32, {longest, h});
    qkv_ = be_.alloc(DType::kF32, {longest, qkv});
    q_ = be_.alloc(DType::kF32, {longest, q});
    attn_ = be_.alloc(DType::kF32, {longest, q});
    gate_up_ = be_.alloc(DType::kF32, {longest, 2 * c_.intermediate_size});
    act_ = be_.alloc(DType::kF32, {longest, c_.intermediate_size});
    const int64_t blocks = (longest + kBlockSize - 1) / kBlockSize;
    cache_.k = be_.alloc(DType::kF32, {blocks, kBlockSize, c_.num_key_value_heads, c_.head_dim});
    cache_.v = be_.alloc(DType::kF32, {blocks, kBlockSize, c_.num_key_value_heads, c_.head_dim});
    positions_.resize(size_t(longest));
    for (int32_t i = 0; i < int32_t(longest); ++i) positions_[size_t(i)] = i;  // slots = positions
    block_table_.resize(size_t(blocks));
    for (int32_t b = 0; b < int32_t(blocks); ++b) block_table_[size_t(b)] = b;
  }

  // Mirrors one layer of LlamaModel::forward for calibration sequence s.
  void run_chunk(const LayerQuant& l, size_t s, Stage stage, HessianAccumulator* h) {
    const int64_t t = int64_t(sequences_[s].size());
    const float eps = float(c_.rms_norm_eps);
    Tensor residual = residual_.slice_rows(starts_[s], starts_[s] + t), sum = sum_.slice_rows(0, t),
           normed = normed_.slice_rows(0, t), hidden = hidden_.slice_rows(0, t), qkv = qkv_.slice_rows(0, t),
           q = q_.slice_rows(0, t), attn = attn_.slice_rows(0, t), gate_up = gate_up_.slice_rows(0, t),
           act = act_.slice_rows(0, t);
    be_.rms_norm(residual, l.input_norm, eps, normed);
    if (stage == Stage::kQkv) return h->add(normed);

    const Tensor positions = make_view(positions_.data(), DType::kI32, Device::kCpu, {t});
    int32_t query_start[2] = {0, int32_t(t)}, seq_len = int32_t(t);
    AttentionMetadata meta{
        .num_seqs = 1,
        .max_query_len = int(t),
        .max_seq_len = int(t),
        .query_start = make_view(query_start, DType::kI32, Device::kCpu, {2}),
        .seq_lens = make_view(&seq_len, DType::kI32, Device::kCpu, {1}),
        .block_tables = make_view(block_table_.data(), DType::kI32, Device::kCpu, {1, int64_t(block_table_.size())})};
    be_.linear(normed, l.qkv, qkv);
    AttentionShape shape = shape_;
    shape.sliding_window = int(c_.attention_window(l.index));
    be_.rope_kv_write(qkv, positions, positions, rope_, shape, cache_, q);
    be_.paged_attention(q, cache_, meta, shape, attn);
    if (stage == Stage::kO) return h->add(attn);

    be_.linear(attn, l.o_proj, hidden);
    std::copy_n(residual.ptr<const float>(), residual.numel(), sum.ptr<float>());
    be_.add_rms_norm(sum, hidden, l.post_norm, eps, normed);  // sum = residual + attention
    if (stage == Stage::kGateUp) return h->add(normed);

    be_.linear(normed, l.gate_up, gate_up);
    be_.silu_mul(gate_up, act);
    if (stage == Stage::kDown) return h->add(act);

    be_.linear(act, l.down, hidden);
    float* out = residual.ptr<float>();
    for (int64_t i = 0; i < residual.numel(); ++i) out[i] = sum.ptr<const float>()[i] + hidden.ptr<const float>()[i];
  }

  const ModelConfig& c_;
  Backend& be_;
  std::vector<std::vector<int32_t>> sequences_;
  std::vector<int64_t> starts_;  // first row of each sequence in residual_
  RopeParams rope_;
  AttentionShape shape_;
  Tensor residual_;  // [calibration tokens, H]: the residual stream entering the current layer
  Tensor sum_, normed_, hidden_, qkv_, q_, attn_, gate_up_, act_;  // [longest sequence, ...]
  KvCacheLayer cache_;
  std::vector<int32_t> positions_, block_table_;
};

class Quantizer {
 public:
  Quantizer(const QuantizeCommandOptions& o, const ModelConfig& c, const WeightStore& store)
      : o_(o), c_(c), store_(store) {
    gptq_.quant = QuantizeOptions{.group_size = o.group_size, .sym = o.sym};
    gptq_.act_order = o.desc_act;
    gptq_.damp_percent = kDampPercent;
  }

  // Quantises every decoder layer, handing each result to `writer`.
  void run(GptqCheckpointWriter& writer) {
    std::unique_ptr<CalibrationPass> pass;
    std::unique_ptr<Backend> backend;
    if (o_.method == "gptq") {
      backend = make_backend("cpu");
      auto sequences = calibration_sequences(o_, c_);
      pass = std::make_unique<CalibrationPass>(c_, store_, *backend, std::move(sequences));
      log_info("quantize: GPTQ calibration on ", pass->num_tokens(), " tokens");
    }
    for (int64_t i = 0; i < c_.num_hidden_layers; ++i) {
      const auto start = std::chrono::steady_clock::now();
      LayerQuant l = load_layer(i);
      if (pass)
        quantize_gptq_layer(*pass, l);
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
    l.index = i;
    l.input_norm = store_.get(prefix + "input_layernorm.weight");
    l.post_norm = store_.get(prefix + "post_attention_layernorm.weight");
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
  void quantize_gptq_layer(CalibrationPass& pass, LayerQuant& l) const {
    using Stage = CalibrationPass::Stage;
    const int64_t h = c_.hidden_size, q_width = c_.num_attention_heads * c_.head_dim;
    const HessianAccumulator h_qkv = pass.hessian(l, Stage::kQkv, h);
    for (int p : {kQ, kK, kV}) l.quantized[p] = quantize_gptq(l.weight[p], h_qkv, gptq_);
    l.qkv = int4_linear(l, {kQ, kK, kV});
    l.quantized[kO] = quantize_gptq(l.weight[kO], pass.hessian(l, Stage::kO, q_width), gptq_);
    l.o_proj = int4_linear(l, {kO});
    const HessianAccumulator h_mlp = pass.hessian(l, Stage::kGateUp, h);
    for (int p : {kGate, kUp}) l.quantized[p] = quantize_gptq(l.weight[p], h_mlp, gptq_);
    l.gate_up = int4_linear(l, {kGate, kUp});
    l.quantized[kDown] = quantize_gptq(l.weight[kDown], pass.hessian(l, Stage::kDown, c_.intermediate_size), gptq_);
    l.down = int4_linear(l, {kDown});
    pass.advance(l);
  }

  const QuantizeCommandOptions& o_;
  const ModelConfig& c_;
  const WeightStore& store_;
  GptqOptions gptq_;
};

void run_quantize(const QuantizeCommandOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  const std::string config_path = o.model_dir + "/config.json";
  const nlohmann::json config_json = load_json_file(config_path, 16u << 20);
  const ModelConfig c = parse_model_config(config_json, config_path);
  validate_options(o, c);
  const WeightStore store = WeightStore::open(o.model_dir);

  GptqCheckpointWriter writer(config_json, gptq_config_json(o.group_size, o.sym, o.desc_act, kDampPercent));
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
  log_info("quantize: wrote ", o.out_dir, " (", o.method, ", group size ", o.group_size, o.sym ? ", sym" : ", asym",
           o.desc_act ? ", desc_act" : "", ") in ", seconds, " s");
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto o = std::make_shared<QuantizeCommandOptions>();
  CLI::App* cmd =
      app.add_subcommand("quantize", "Write a 4-bit GPTQ-format copy of a model (see docs/quantization.md)");
  cmd->add_option("--model", o->model_dir, "Dense model folder (config.json + safetensors)")->required();
  cmd->add_option("--out", o->out_dir, "Output folder")->required();
  cmd->add_option("--method", o->method, "rtn (round to nearest) or gptq (Hessian error compensation)")
      ->check(CLI::IsMember({"rtn", "gptq"}));
  cmd->add_option("--group-size", o->group_size, "Input columns per scale; -1: one per output row")
      ->capture_default_str();
  cmd->add_flag("--sym", o->sym, "Symmetric grid (zero point 8) instead of asymmetric");
  cmd->add_flag("--desc-act", o->desc_act, "GPTQ act-order: quantise columns by decreasing Hessian diagonal");
  cmd->add_option("--calibration", o->calibration, "GPTQ calibration text file (default: a built-in sample)");
  cmd->add_option("--bits", o->bits, "Bits per weight (4)")->capture_default_str();
  cmd->callback([o] { run_quantize(*o); });
}

}  // namespace tern::app
