// How a Llama-family decoder is divided among the N ranks of a tensor-parallel group
// (Megatron-LM's scheme). Rank r holds:
//  - attention: query heads [r Hq/N, (r+1) Hq/N) and the KV heads they read,
//    [r Hkv/N, (r+1) Hkv/N): those rows of the fused Q/K/V weight and bias, its part of
//    every layer's paged KV cache, and the matching input columns of o_proj;
//  - MLP: rows [r I/N, (r+1) I/N) of gate and of up (and their biases), and the matching
//    input columns of down_proj;
//  - o_proj and down_proj give partial sums that an all-reduce adds up; their biases (if
//    any) sit on rank 0 alone, so they are added once;
//  - embedding and lm_head: vocabulary rows [r Vr, (r+1) Vr) with Vr = ceil(V/N), the last
//    rank's slice padded with zero rows. The embedding gives zeros for ids of other ranks,
//    then an all-reduce; lm_head gives this rank's columns of the logits, then a gather;
//  - norms: whole. Every rank keeps the whole residual stream.
#pragma once

#include <algorithm>
#include <cstdint>

#include "model/config.h"

namespace tern {

// The part of the model one rank holds. size 1: the whole model, nothing to combine.
struct ModelShard {
  int rank = 0;
  int size = 1;
  int64_t num_q_heads = 0;        // this rank's
  int64_t num_kv_heads = 0;       // this rank's
  int64_t intermediate_size = 0;  // this rank's
  int64_t vocab_begin = 0;        // first token id of this rank's embedding / lm_head rows
  int64_t vocab_rows = 0;         // rows of this rank's embedding / lm_head (ceil(V / N))

  bool whole() const { return size == 1; }
  // Token ids this rank holds real rows for: [vocab_begin, vocab_end) (the rest is padding).
  int64_t vocab_end(const ModelConfig& c) const { return std::min(c.vocab_size, vocab_begin + vocab_rows); }
};

// The largest tensor-parallel size tern accepts (GPUs of one host).
inline constexpr int kMaxTensorParallelSize = 64;

// Throws tern::Error, saying which sizes would work, unless `size` splits the model:
// it must divide the attention heads, the KV heads (each rank keeps whole KV heads) and
// the intermediate size; for an INT4 checkpoint with plain groups, each rank's share of
// o_proj's and down_proj's inputs must be whole groups.
void check_tensor_parallel_size(const ModelConfig& config, int size);

// Rank `rank`'s part of the model, after check_tensor_parallel_size.
ModelShard model_shard(const ModelConfig& config, int rank, int size);

}  // namespace tern
