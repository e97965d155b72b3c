#include "model/weights.h"

#include <cmath>
#include <cstring>
#include <string>

#include "base/error.h"
#include "quant/fp8_checkpoint.h"
#include "quant/int4_slice.h"
#include "quant/packed_linear.h"
#include "tensor/convert.h"
#include "tensor/host_slices.h"

namespace tern {
namespace {

// How a linear layer is divided among the ranks (model/tensor_parallel.h).
enum class Split {
  kOutputs,  // column-parallel: each rank a slice of every module's output rows
  kInputs,   // row-parallel: each rank a slice of the input columns; the bias on rank 0
};

// A linear layer: modules stacked along the output dimension (fused Q/K/V, gate/up).
struct LinearSpec {
  std::vector<std::string> modules;
  std::vector<int64_t> rows;  // each module's output features in the whole model
  int64_t cols = 0;           // input features in the whole model
  bool bias = false;
  Split split = Split::kOutputs;
};

class Loader {
 public:
  Loader(const ModelConfig& config, const WeightStore& store, Backend& backend, const ModelShard& shard,
         const LoadProgress& progress)
      : config_(config), store_(store), backend_(backend), shard_(shard), progress_(progress) {
    for (const auto& name : store.names()) total_bytes_ += store.entry(name).end - store.entry(name).begin;
  }

  // A host view of a float tensor after checking its shape; counts it as read.
  Tensor read(const std::string& name, std::initializer_list<int64_t> shape) {
    Tensor t = store_.get(name);
    if (!is_float_dtype(t.dtype))
      throw error(store_.file_of(name), ": tensor '", name, "': dtype ", dtype_name(t.dtype),
                  " where a float weight (F32, F16 or BF16) is expected",
                  t.dtype != DType::kF8E4M3                                     ? ""
                  : config_.quantization && config_.quantization->method == QuantMethod::kFp8
                      ? " (tern keeps embeddings, norms and lm_head dense in FP8 models)"
                      : " (an FP8 checkpoint needs its quantization_config in config.json)");
    Tensor want = make_view(nullptr, t.dtype, Device::kCpu, shape);
    bool same = t.ndim == want.ndim;
    for (int i = 0; same && i < t.ndim; ++i) same = t.shape[i] == want.shape[i];
    if (!same)
      throw error(store_.file_of(name), ": tensor '", name, "': shape ", t.shape_str(), " but config.json implies ",
                  want.shape_str());
    count_done(t);
    return t;
  }

  Tensor upload(const Tensor& host_tensor) {
    Tensor t = backend_.upload(host_tensor, backend_.weight_dtype(host_tensor.dtype));
    device_bytes_ += t.nbytes();
    return t;
  }

  Tensor load(const std::string& name, std::initializer_list<int64_t> shape) { return upload(read(name, shape)); }

  // This rank's rows of a [V, H] vocabulary table: all of it for a whole model, else its
  // slice padded with zero rows to vocab_rows.
  Tensor load_vocab_rows(const std::string& name) {
    const Tensor full = read(name, {config_.vocab_size, config_.hidden_size});
    if (shard_.whole()) return upload(full);
    return upload(copy_rows_padded(full, shard_.vocab_begin, shard_.vocab_end(config_), shard_.vocab_rows));
  }

  // One linear layer, this rank's part of it: INT4 or FP8 as config.json's
  // quantization_config says, else dense (a whole single module stays a zero-copy view of
  // the file on the CPU).
  LinearWeight linear(const LinearSpec& spec) {
    LinearWeight w;
    const auto in_context = [&](const auto& load) {
      try {
        load();
      } catch (const Error& e) {
        throw error(spec.modules[0], spec.modules.size() > 1 ? " (fused with the next projections)" : "", ": ",
                    e.what());
      }
    };
    if (quantized_layer(spec) && config_.quantization->method == QuantMethod::kFp8) {
      in_context([&] { w.fp8 = backend_.upload_fp8(fp8(spec)); });
      device_bytes_ += w.fp8.values.nbytes() + w.fp8.scales.nbytes();
    } else if (quantized_layer(spec)) {
      in_context([&] { w.int4 = backend_.upload_int4(quantized(spec)); });
      for (const Tensor* t : {&w.int4.codes, &w.int4.scales, &w.int4.zeros, &w.int4.group_index})
        if (!t->empty()) device_bytes_ += t->nbytes();
    } else {
      std::vector<Tensor> parts;
      for (size_t i = 0; i < spec.modules.size(); ++i)
        parts.push_back(slice(read(dense_name(spec.modules[i]), {spec.rows[i], spec.cols}), spec, i));
      w.weight = upload(parts.size() == 1 ? parts[0] : concat_rows(parts));
    }
    if (spec.bias && (spec.split == Split::kOutputs || shard_.rank == 0)) {
      std::vector<Tensor> biases;
      for (size_t i = 0; i < spec.modules.size(); ++i) {
        const Tensor b = read(spec.modules[i] + ".bias", {spec.rows[i]});
        biases.push_back(spec.split == Split::kOutputs ? output_rows(b, spec, i) : b);
      }
      w.bias = upload(biases.size() == 1 ? biases[0] : concat_rows(biases));
    }
    return w;
  }

  // The checkpoint's KV cache scales, when every layer has them.
  void kv_scales(ModelWeights& w) {
    for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".self_attn.";
      const bool pair = store_.has(p + "k_scale") && store_.has(p + "v_scale"), one = store_.has(p + "kv_scale");
      if (!pair && !one) {
        if (i > 0) throw error(p, "k_scale and v_scale (or kv_scale) are missing, but layer 0 has them");
        return;
      }
      w.k_scales.push_back(scale(pair ? p + "k_scale" : p + "kv_scale"));
      w.v_scales.push_back(scale(pair ? p + "v_scale" : p + "kv_scale"));
    }
  }

  // An FP8 lm_head (a checkpoint that quantized it): this rank's vocabulary rows, padded
  // with zero rows to vocab_rows like a dense table's.
  LinearWeight fp8_lm_head() {
    if (!config_.quantization || config_.quantization->method != QuantMethod::kFp8 ||
        config_.quantization->fp8.format == Fp8Config::Format::kOnline)
      throw error(store_.file_of("lm_head.weight"),
                  ": tensor 'lm_head.weight' is F8_E4M3, but config.json has no FP8 quantization_config");
    const LinearSpec spec{.modules = {"lm_head"}, .rows = {config_.vocab_size}, .cols = config_.hidden_size};
    LinearWeight w;
    try {
      Fp8Weight whole = fp8(spec, /*whole_modules=*/true);
      if (!shard_.whole()) {
        const std::string context = "lm_head (tensor-parallel rank " + std::to_string(shard_.rank) + ")";
        whole = pad_fp8_outputs(slice_fp8_outputs(whole, shard_.vocab_begin, shard_.vocab_end(config_), context),
                                shard_.vocab_rows);
      }
      w.fp8 = backend_.upload_fp8(whole);
    } catch (const Error& e) {
      throw error("lm_head: ", e.what());
    }
    device_bytes_ += w.fp8.values.nbytes() + w.fp8.scales.nbytes();
    return w;
  }

  size_t device_bytes() const { return device_bytes_; }
  void finish() {
    if (progress_) progress_(total_bytes_, total_bytes_);
  }

 private:
  // This rank's slice [begin, end) of module i's rows (kOutputs) or of the inputs (kInputs).
  std::pair<int64_t, int64_t> range(const LinearSpec& spec, size_t i) const {
    const int64_t whole = spec.split == Split::kOutputs ? spec.rows[i] : spec.cols;
    const int64_t share = whole / shard_.size;
    return {shard_.rank * share, (shard_.rank + 1) * share};
  }
  Tensor output_rows(const Tensor& t, const LinearSpec& spec, size_t i) const {
    if (shard_.whole()) return t;
    const auto [begin, end] = range(spec, i);
    return t.slice_rows(begin, end);
  }
  Tensor slice(const Tensor& weight, const LinearSpec& spec, size_t i) const {
    if (shard_.whole() || spec.split == Split::kOutputs) return output_rows(weight, spec, i);
    const auto [begin, end] = range(spec, i);
    return copy_columns(weight, begin, end);
  }

  // Stacks the rows of several [rows_i, cols] tensors into one host tensor, widening to
  // F32 if their dtypes differ.
  static Tensor concat_rows(const std::vector<Tensor>& parts) {
    DType dtype = parts[0].dtype;
    int64_t rows = 0;
    for (const auto& p : parts) {
      rows += p.ndim == 1 ? p.numel() : p.rows();
      if (p.dtype != dtype) dtype = DType::kF32;
    }
    const int64_t cols = parts[0].cols();
    Tensor out = parts[0].ndim == 1 ? host_tensor(dtype, {rows}) : host_tensor(dtype, {rows, cols});
    char* dst = static_cast<char*>(out.data);
    for (const auto& p : parts) {
      if (p.dtype == dtype) {
        std::memcpy(dst, p.data, p.nbytes());
      } else {
        Tensor widened = convert_host(p, DType::kF32);
        std::memcpy(dst, widened.data, widened.nbytes());
      }
      dst += p.numel() * dtype_size(dtype);
    }
    return out;
  }

  // `<module>.weight`, after checking that the module is not stored quantized.
  std::string dense_name(const std::string& module) const {
    if (!store_.has(module + ".weight") && store_.has(module + ".qweight"))
      throw error(store_.file_of(module + ".qweight"), ": tensor '", module,
                  ".qweight' is quantized, but config.json has no quantization_config");
    return module + ".weight";
  }

  // Whether the layer is stored quantized: config.json has a quantization_config that
  // does not leave its modules dense. INT4 checkpoints quantize every projection; FP8 ones
  // may leave some dense, but not some parts of a fused layer.
  bool quantized_layer(const LinearSpec& spec) const {
    if (!config_.quantization) return false;
    const QuantizationConfig& q = *config_.quantization;
    size_t dense = 0;
    for (const std::string& module : spec.modules) dense += module_not_converted(q, module);
    if (dense == 0) return true;
    if (q.method != QuantMethod::kFp8)
      throw error("config.json: quantization_config.modules_to_not_convert leaves ", spec.modules[0],
                  " dense; tern needs every decoder projection of an INT4 checkpoint quantized");
    if (dense != spec.modules.size())
      throw error("config.json: quantization_config leaves some of ", spec.modules[0],
                  " and the projections fused with it dense and quantizes others; tern fuses them into one matrix "
                  "and needs them stored alike");
    return false;
  }

  // The FP8 modules, each read whole, sliced to this rank's part (unless `whole`), and
  // stacked.
  Fp8Weight fp8(const LinearSpec& spec, bool whole_modules = false) {
    const Fp8Config& config = config_.quantization->fp8;
    std::vector<Fp8Weight> parts;
    for (size_t i = 0; i < spec.modules.size(); ++i) {
      const std::string& module = spec.modules[i];
      if (config.format == Fp8Config::Format::kOnline) {
        // --quantization fp8: the whole module quantised (per-row scales), then sliced as a
        // checkpoint's would be, so every rank holds the same weights as one rank.
        const Fp8Weight whole = quantize_fp8(read(dense_name(module), {spec.rows[i], spec.cols}));
        parts.push_back(shard_.whole() || whole_modules ? whole : rank_part(whole, spec, i));
        continue;
      }
      Fp8Tensors t;
      t.name = module;
      for (auto [suffix, tensor] : {std::pair{std::string(".weight"), &t.weight}, {config.scale_suffix, &t.weight_scale},
                                    {std::string(".input_scale"), &t.input_scale}}) {
        if (!store_.has(module + suffix)) {
          if (tensor == &t.input_scale) continue;
          throw error("tensor '", module, suffix, "' is missing: an FP8 checkpoint stores weight and ",
                      config.scale_suffix.substr(1), " for every quantized projection");
        }
        *tensor = store_.get(module + suffix);
        count_done(*tensor);
      }
      t.source = store_.file_of(module + ".weight");
      const Fp8Weight whole = read_fp8_linear(t, config, spec.rows[i], spec.cols);
      parts.push_back(shard_.whole() || whole_modules ? whole : rank_part(whole, spec, i));
    }
    return concat_fp8_outputs(parts, spec.modules);
  }

  // This rank's rows or columns of module i's whole FP8 weight.
  Fp8Weight rank_part(const Fp8Weight& whole, const LinearSpec& spec, size_t i) const {
    const auto [begin, end] = range(spec, i);
    const std::string context = spec.modules[i] + " (tensor-parallel rank " + std::to_string(shard_.rank) + " of " +
                                std::to_string(shard_.size) + ")";
    return spec.split == Split::kOutputs ? slice_fp8_outputs(whole, begin, end, context)
                                         : slice_fp8_inputs(whole, begin, end, context);
  }

  // The INT4 modules, each unpacked whole on the host, sliced to this rank's part, and
  // stacked.
  Int4Weight quantized(const LinearSpec& spec) {
    std::vector<Int4Weight> parts;
    for (size_t i = 0; i < spec.modules.size(); ++i) {
      const Int4Weight whole = unpack(spec.modules[i], spec.rows[i], spec.cols);
      if (shard_.whole()) {
        parts.push_back(whole);
        continue;
      }
      const auto [begin, end] = range(spec, i);
      parts.push_back(spec.split == Split::kOutputs ? slice_int4_outputs(whole, begin, end)
                                                    : slice_int4_inputs(whole, begin, end,
                                                                        spec.modules[i] + " (tensor-parallel rank " +
                                                                            std::to_string(shard_.rank) + " of " +
                                                                            std::to_string(shard_.size) + ")"));
    }
    return parts.size() == 1 ? parts[0] : concat_int4_outputs(parts, spec.modules);
  }

  // A quantized module's tensors, converted to tern's INT4 layout on the host.
  Int4Weight unpack(const std::string& module, int64_t rows, int64_t cols) {
    const QuantizationConfig& q = *config_.quantization;
    const char* method = q.method == QuantMethod::kGptq ? "GPTQ" : "AWQ";
    PackedLinear p;
    p.name = module;
    for (auto [suffix, tensor] : {std::pair{".qweight", &p.qweight}, {".qzeros", &p.qzeros}, {".scales", &p.scales}}) {
      if (!store_.has(module + suffix))
        throw error("tensor '", module, suffix, "' is missing: a ", method,
                    " checkpoint stores qweight, qzeros and scales for every decoder projection");
      *tensor = store_.get(module + suffix);
      count_done(*tensor);
    }
    p.source = store_.file_of(module + ".qweight");
    if (store_.has(module + ".g_idx")) {
      p.g_idx = store_.get(module + ".g_idx");
      count_done(p.g_idx);
    }
    return unpack_linear(p, q, rows, cols);
  }

  // A positive scalar scale of any float dtype, [] or [1].
  float scale(const std::string& name) {
    const Tensor t = store_.get(name);
    if (t.numel() != 1 || t.ndim > 1 || !is_float_dtype(t.dtype))
      throw error(store_.file_of(name), ": tensor '", name, "': ", dtype_name(t.dtype), " ", t.shape_str(),
                  " where a float scale of shape [] or [1] is expected");
    float v = 0;
    read_as_f32(t, 0, 1, &v);
    if (!(std::isfinite(v) && v > 0))
      throw error(store_.file_of(name), ": tensor '", name, "': ", v, " is not a finite positive scale");
    count_done(t);
    return v;
  }

  // Progress counts the checkpoint's bytes as they are read, whatever share of them this
  // rank keeps, so every rank of a group reaches the same total.
  void count_done(const Tensor& t) {
    done_bytes_ += t.nbytes();
    if (progress_) progress_(std::min(done_bytes_, total_bytes_), total_bytes_);
  }

  const ModelConfig& config_;
  const WeightStore& store_;
  Backend& backend_;
  const ModelShard& shard_;
  const LoadProgress& progress_;
  size_t total_bytes_ = 0;
  size_t done_bytes_ = 0;
  size_t device_bytes_ = 0;
};

}  // namespace

ModelWeights load_weights(const ModelConfig& c, const WeightStore& store, Backend& backend, const ModelShard& shard,
                          const LoadProgress& progress) {
  Loader loader(c, store, backend, shard, progress);
  const int64_t h = c.hidden_size, d = c.head_dim, q_rows = c.num_attention_heads * d,
                kv_rows = c.num_key_value_heads * d;
  ModelWeights w;
  w.shard = shard;
  w.embed_tokens = loader.load_vocab_rows("model.embed_tokens.weight");
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerWeights l;
    l.input_norm = loader.load(p + "input_layernorm.weight", {h});
    l.post_attention_norm = loader.load(p + "post_attention_layernorm.weight", {h});
    l.qkv = loader.linear({.modules = {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"},
                           .rows = {q_rows, kv_rows, kv_rows},
                           .cols = h,
                           .bias = c.attention_bias,
                           .split = Split::kOutputs});
    l.o_proj = loader.linear({.modules = {p + "self_attn.o_proj"},
                              .rows = {h},
                              .cols = q_rows,
                              .bias = c.o_proj_bias,
                              .split = Split::kInputs});
    l.gate_up = loader.linear({.modules = {p + "mlp.gate_proj", p + "mlp.up_proj"},
                               .rows = {c.intermediate_size, c.intermediate_size},
                               .cols = h,
                               .bias = c.mlp_bias,
                               .split = Split::kOutputs});
    l.down = loader.linear({.modules = {p + "mlp.down_proj"},
                            .rows = {h},
                            .cols = c.intermediate_size,
                            .bias = c.mlp_bias,
                            .split = Split::kInputs});
    w.layers.push_back(std::move(l));
  }
  loader.kv_scales(w);
  w.final_norm = loader.load("model.norm.weight", {h});
  if (c.tie_word_embeddings || !store.has("lm_head.weight")) {
    if (!c.tie_word_embeddings)
      throw error("lm_head.weight is missing and config.json does not set tie_word_embeddings");
    w.lm_head.weight = w.embed_tokens;
  } else if (store.get("lm_head.weight").dtype == DType::kF8E4M3) {
    w.lm_head = loader.fp8_lm_head();
  } else {
    w.lm_head.weight = loader.load_vocab_rows("lm_head.weight");
  }
  w.device_bytes = loader.device_bytes();
  loader.finish();
  return w;
}

ModelWeights load_weights(const ModelConfig& config, const WeightStore& store, Backend& backend,
                          const LoadProgress& progress) {
  return load_weights(config, store, backend, model_shard(config, 0, 1), progress);
}

}  // namespace tern
