#include "model/weights.h"

#include <cstring>
#include <string>

#include "base/error.h"
#include "quant/packed_linear.h"
#include "tensor/convert.h"

namespace tern {
namespace {

class Loader {
 public:
  Loader(const ModelConfig& config, const WeightStore& store, Backend& backend, const LoadProgress& progress)
      : config_(config), store_(store), backend_(backend), progress_(progress) {
    for (const auto& name : store.names()) total_bytes_ += store.entry(name).end - store.entry(name).begin;
  }

  // A host view of a float tensor after checking its shape.
  Tensor host(const std::string& name, std::initializer_list<int64_t> shape) const {
    Tensor t = store_.get(name);
    if (t.dtype != DType::kF32 && t.dtype != DType::kBF16 && t.dtype != DType::kF16)
      throw error(store_.file_of(name), ": tensor '", name, "': dtype ", dtype_name(t.dtype),
                  " where a float weight (F32, F16 or BF16) is expected");
    Tensor want = make_view(nullptr, t.dtype, Device::kCpu, shape);
    bool same = t.ndim == want.ndim;
    for (int i = 0; same && i < t.ndim; ++i) same = t.shape[i] == want.shape[i];
    if (!same)
      throw error(store_.file_of(name), ": tensor '", name, "': shape ", t.shape_str(), " but config.json implies ",
                  want.shape_str());
    return t;
  }

  Tensor upload(const Tensor& host_tensor) {
    Tensor t = backend_.upload(host_tensor, backend_.weight_dtype(host_tensor.dtype));
    device_bytes_ += t.nbytes();
    done_bytes_ += host_tensor.nbytes();
    if (progress_) progress_(std::min(done_bytes_, total_bytes_), total_bytes_);
    return t;
  }

  Tensor load(const std::string& name, std::initializer_list<int64_t> shape) { return upload(host(name, shape)); }

  // Stacks the rows of several [rows_i, cols] tensors into one host tensor, widening to
  // F32 if their dtypes differ.
  Tensor concat_rows(const std::vector<Tensor>& parts) {
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

  LinearWeight fused(const std::vector<std::string>& names, const std::vector<int64_t>& rows, int64_t cols,
                     bool with_bias) {
    std::vector<Tensor> weights, biases;
    for (size_t i = 0; i < names.size(); ++i) {
      weights.push_back(host(dense_name(names[i]), {rows[i], cols}));
      if (with_bias) biases.push_back(host(names[i] + ".bias", {rows[i]}));
    }
    LinearWeight w;
    w.weight = upload(concat_rows(weights));
    if (with_bias) w.bias = upload(concat_rows(biases));
    return w;
  }

  // One linear layer made of the named modules stacked along the output dimension:
  // INT4 when config.json has a quantization_config, else dense (a single module stays a
  // zero-copy view of the file).
  LinearWeight linear(const std::vector<std::string>& names, const std::vector<int64_t>& rows, int64_t cols,
                      bool with_bias) {
    if (config_.quantization) return quantized(names, rows, cols, with_bias);
    if (names.size() > 1) return fused(names, rows, cols, with_bias);
    LinearWeight w;
    w.weight = load(dense_name(names[0]), {rows[0], cols});
    if (with_bias) w.bias = load(names[0] + ".bias", {rows[0]});
    return w;
  }

  size_t device_bytes() const { return device_bytes_; }

 private:
  LinearWeight quantized(const std::vector<std::string>& names, const std::vector<int64_t>& rows, int64_t cols,
                         bool with_bias) {
    std::vector<Int4Weight> parts;
    std::vector<Tensor> biases;
    for (size_t i = 0; i < names.size(); ++i) {
      parts.push_back(unpack(names[i], rows[i], cols));
      if (with_bias) biases.push_back(host(names[i] + ".bias", {rows[i]}));
    }
    const Int4Weight fused = parts.size() == 1 ? parts[0] : concat_int4_outputs(parts, names);
    LinearWeight w;
    try {
      w.int4 = backend_.upload_int4(fused);
    } catch (const Error& e) {
      throw error(names[0], names.size() > 1 ? " (fused with the next projections)" : "", ": ", e.what());
    }
    for (const Tensor* t : {&w.int4.codes, &w.int4.scales, &w.int4.zeros, &w.int4.group_index})
      if (!t->empty()) device_bytes_ += t->nbytes();
    if (with_bias) w.bias = upload(concat_rows(biases));
    return w;
  }

  // A quantized module's tensors, converted to tern's INT4 layout on the host.
  Int4Weight unpack(const std::string& module, int64_t rows, int64_t cols) {
    const QuantizationConfig& q = *config_.quantization;
    const char* method = q.method == QuantMethod::kGptq ? "GPTQ" : "AWQ";
    for (const std::string& skipped : q.modules_not_converted) {
      if (module.find(skipped) != std::string::npos)
        throw error("config.json: quantization_config.modules_to_not_convert lists '", skipped, "', which leaves ",
                    module, " dense; tern needs every decoder projection quantized");
    }
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

  void count_done(const Tensor& t) {
    done_bytes_ += t.nbytes();
    if (progress_) progress_(std::min(done_bytes_, total_bytes_), total_bytes_);
  }

  const ModelConfig& config_;
  const WeightStore& store_;
  Backend& backend_;
  const LoadProgress& progress_;
  size_t total_bytes_ = 0;
  size_t done_bytes_ = 0;
  size_t device_bytes_ = 0;
};

}  // namespace

ModelWeights load_weights(const ModelConfig& c, const WeightStore& store, Backend& backend,
                          const LoadProgress& progress) {
  Loader loader(c, store, backend, progress);
  const int64_t h = c.hidden_size, d = c.head_dim, q_rows = c.num_attention_heads * d,
                kv_rows = c.num_key_value_heads * d;
  ModelWeights w;
  w.embed_tokens = loader.load("model.embed_tokens.weight", {c.vocab_size, h});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerWeights l;
    l.input_norm = loader.load(p + "input_layernorm.weight", {h});
    l.post_attention_norm = loader.load(p + "post_attention_layernorm.weight", {h});
    l.qkv = loader.linear({p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"},
                          {q_rows, kv_rows, kv_rows}, h, c.attention_bias);
    l.o_proj = loader.linear({p + "self_attn.o_proj"}, {h}, q_rows, false);
    l.gate_up = loader.linear({p + "mlp.gate_proj", p + "mlp.up_proj"}, {c.intermediate_size, c.intermediate_size}, h,
                              c.mlp_bias);
    l.down = loader.linear({p + "mlp.down_proj"}, {h}, c.intermediate_size, c.mlp_bias);
    w.layers.push_back(std::move(l));
  }
  w.final_norm = loader.load("model.norm.weight", {h});
  if (c.tie_word_embeddings || !store.has("lm_head.weight")) {
    if (!c.tie_word_embeddings)
      throw error("lm_head.weight is missing and config.json does not set tie_word_embeddings");
    w.lm_head.weight = w.embed_tokens;
  } else {
    w.lm_head.weight = loader.load("lm_head.weight", {c.vocab_size, h});
  }
  w.device_bytes = loader.device_bytes();
  return w;
}

}  // namespace tern
