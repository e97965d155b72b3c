#include "model/weights.h"

#include <cstring>
#include <string>

#include "base/error.h"
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

  LinearWeight fused(const std::vector<std::string>& names, const std::vector<int64_t>& rows, int64_t cols,
                     bool with_bias) {
    std::vector<Tensor> weights, biases;
    for (size_t i = 0; i < names.size(); ++i) {
      weights.push_back(host(names[i] + ".weight", {rows[i], cols}));
      if (with_bias) biases.push_back(host(names[i] + ".bias", {rows[i]}));
    }
    LinearWeight w;
    w.weight = upload(concat_rows(weights));
    if (with_bias) w.bias = upload(concat_rows(biases));
    return w;
  }

  size_t device_bytes() const { return device_bytes_; }

 private:
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
    l.qkv = loader.fused({p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"},
                         {q_rows, kv_rows, kv_rows}, h, c.attention_bias);
    l.o_proj.weight = loader.load(p + "self_attn.o_proj.weight", {h, q_rows});
    l.gate_up = loader.fused({p + "mlp.gate_proj", p + "mlp.up_proj"}, {c.intermediate_size, c.intermediate_size}, h,
                             c.mlp_bias);
    l.down.weight = loader.load(p + "mlp.down_proj.weight", {h, c.intermediate_size});
    if (c.mlp_bias) l.down.bias = loader.load(p + "mlp.down_proj.bias", {h});
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
