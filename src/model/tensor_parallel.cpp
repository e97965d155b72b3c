#include "model/tensor_parallel.h"

#include <initializer_list>
#include <string>
#include <tuple>
#include <utility>

#include "base/error.h"
#include "quant/int4_slice.h"

namespace tern {
namespace {

// The sizes in [1, limit] that divide every one of `counts`, for the error message.
std::string sizes_dividing(std::initializer_list<int64_t> counts, int limit) {
  std::string out;
  for (int n = 1; n <= limit; ++n) {
    bool divides = true;
    for (int64_t c : counts) divides = divides && c % n == 0;
    if (divides) out += (out.empty() ? "" : ", ") + std::to_string(n);
  }
  return out;
}

}  // namespace

void check_tensor_parallel_size(const ModelConfig& c, int size) {
  if (size < 1 || size > kMaxTensorParallelSize)
    throw error("--tensor-parallel-size ", size, " must be in [1, ", kMaxTensorParallelSize, "]");
  const std::string fits = sizes_dividing({c.num_attention_heads, c.num_key_value_heads, c.intermediate_size},
                                          kMaxTensorParallelSize);
  const auto fail = [&](const char* what, int64_t count) {
    return error("--tensor-parallel-size ", size, " does not divide the model's ", count, " ", what,
                 " (each rank holds an equal whole share); sizes that fit this model: ", fits);
  };
  if (c.num_key_value_heads % size != 0) throw fail("KV heads (num_key_value_heads)", c.num_key_value_heads);
  if (c.num_attention_heads % size != 0) throw fail("attention heads", c.num_attention_heads);
  if (c.intermediate_size % size != 0) throw fail("MLP channels (intermediate_size)", c.intermediate_size);
  if (const int64_t rows = (c.vocab_size + size - 1) / size; (size - 1) * rows >= c.vocab_size)
    throw error("--tensor-parallel-size ", size, " leaves a rank without any of the ", c.vocab_size,
                " vocabulary rows");
  if (!c.quantization || size == 1) return;
  if (c.quantization->method == QuantMethod::kFp8) {
    // Block scales and activation groups may only be cut at their boundaries.
    const Fp8Config& f = c.quantization->fp8;
    const int64_t q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
    const int64_t group = f.activations == Fp8Activations::kPerTokenGroup ? f.activation_group : f.block_cols;
    for (const auto& [what, count, unit] :
         {std::tuple{"query rows", q, f.block_rows}, std::tuple{"key/value rows", kv, f.block_rows},
          std::tuple{"MLP rows", c.intermediate_size, f.block_rows}, std::tuple{"o_proj inputs", q, group},
          std::tuple{"down_proj inputs", c.intermediate_size, group}}) {
      if (unit > 0 && (count / size) % unit != 0)
        throw error("--tensor-parallel-size ", size, ": each rank's share of the ", count, " FP8 ", what,
                    " would be ", count / size, ", not a multiple of the checkpoint's blocks of ", unit);
    }
    return;
  }
  // Act-order groups may be sliced anywhere even; plain groups only at group boundaries.
  for (const auto& [module, inputs] : {std::pair{"o_proj", c.num_attention_heads * c.head_dim},
                                       std::pair{"down_proj", c.intermediate_size}}) {
    const int64_t group = c.quantization->desc_act ? 0 : c.quantization->group_size_for(inputs);
    const int64_t share = inputs / size;
    for (int r = 0; r < size; ++r) {
      const std::string problem = int4_input_slice_problem(inputs, group, r * share, (r + 1) * share);
      if (!problem.empty())
        throw error("--tensor-parallel-size ", size, ": INT4 ", module, " cannot be split: ", problem);
    }
  }
}

ModelShard model_shard(const ModelConfig& c, int rank, int size) {
  check_tensor_parallel_size(c, size);
  TERN_CHECK(rank >= 0 && rank < size, "rank ", rank, " of ", size);
  ModelShard s;
  s.rank = rank;
  s.size = size;
  s.num_q_heads = c.num_attention_heads / size;
  s.num_kv_heads = c.num_key_value_heads / size;
  s.intermediate_size = c.intermediate_size / size;
  s.vocab_rows = (c.vocab_size + size - 1) / size;
  s.vocab_begin = rank * s.vocab_rows;
  return s;
}

}  // namespace tern
