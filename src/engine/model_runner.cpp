#include "engine/model_runner.h"

#include <algorithm>

#include "base/error.h"
#include "base/log.h"

namespace tern {
namespace {

int32_t resolve_max_model_len(const LlamaModel& model, int32_t requested) {
  return requested > 0 ? requested : int32_t(model.config().max_position_embeddings);
}

// Decode batch sizes worth a graph: 1, 2, 4, 8, then every 8 up to the limit (vLLM's
// spacing), so padding wastes at most 7 rows.
std::vector<int32_t> graph_sizes(int32_t max_seqs) {
  std::vector<int32_t> sizes;
  for (int32_t s : {1, 2, 4})
    if (s <= max_seqs) sizes.push_back(s);
  for (int32_t s = 8; s <= max_seqs; s += 8) sizes.push_back(s);
  if (sizes.back() != max_seqs) sizes.push_back(max_seqs);
  return sizes;
}

}  // namespace

ModelRunner::ModelRunner(std::unique_ptr<LlamaModel> model, ModelRunnerConfig config, std::unique_ptr<Backend> backend)
    : backend_(std::move(backend)),
      model_(std::move(model)),
      config_(config),
      inputs_(model_->backend(), StepInputsConfig{.max_tokens = config.max_num_batched_tokens,
                                                  .max_seqs = config.max_num_seqs,
                                                  .block_size = config.block_size,
                                                  .max_model_len = resolve_max_model_len(*model_, config.max_model_len)}) {
  config_.max_model_len = resolve_max_model_len(*model_, config_.max_model_len);
  TERN_CHECK(config_.block_size > 0 && config_.num_kv_blocks > 0, "runner needs a KV pool");
  Backend& be = model_->backend();
  const int64_t s = config_.max_num_seqs, vocab = model_->config().vocab_size;
  top_k_ = int32_t(std::min<int64_t>(kTopCandidates, vocab));
  kv_cache_ = model_->make_kv_cache(config_.num_kv_blocks, config_.block_size);
  workspace_ = model_->make_workspace(config_.max_num_batched_tokens, s);
  top_ids_ = be.alloc(DType::kI32, {s, top_k_});
  top_values_ = be.alloc(DType::kF32, {s, top_k_});
  top_lse_ = be.alloc(DType::kF32, {s});
  h_top_ids_ = be.alloc_staging(DType::kI32, {s, top_k_});
  h_top_values_ = be.alloc_staging(DType::kF32, {s, top_k_});
  h_top_lse_ = be.alloc_staging(DType::kF32, {s});
  if (!config_.enforce_eager) capture_graphs();
  memory_.weights_bytes = int64_t(model_->weights_device_bytes());
  memory_.workspace_bytes = int64_t(model_->workspace_bytes(config_.max_num_batched_tokens, s));
  memory_.kv_block_bytes = int64_t(model_->kv_block_bytes(config_.block_size));
  if (const MemoryInfo device = be.memory_info(); device.total_bytes > 0) {
    memory_.device_used_bytes = int64_t(device.total_bytes - device.free_bytes);
  }
}

void ModelRunner::forward_and_top_k() {
  const Tensor logits = model_->forward(inputs_.forward_inputs(), kv_cache_, workspace_);
  const int64_t rows = logits.rows();
  if (rows > 0)
    model_->backend().top_k(logits, top_k_, top_ids_.slice_rows(0, rows), top_values_.slice_rows(0, rows),
                            top_lse_.slice_rows(0, rows));
}

void ModelRunner::capture_graphs() {
  Backend& be = model_->backend();
  // Capture with all-padding batches: the graph records kernels and buffer addresses;
  // the contents come from each step's upload.
  static const SamplingParams kGreedy{.temperature = 0.0f};
  const int32_t one_block = 0;
  const int32_t token = 0;
  // Largest first: workspaces that grow on first use reach their final size before any
  // graph records their address.
  std::vector<int32_t> sizes = graph_sizes(std::min(config_.max_num_seqs, config_.max_num_batched_tokens));
  std::reverse(sizes.begin(), sizes.end());
  for (int32_t size : sizes) {
    StepSequence seq{.seq_id = 0, .new_token_ids = {&token, 1}, .block_table = {&one_block, 1}, .params = &kGreedy};
    inputs_.build(StepBatch{.seqs = {seq}}, size, model_->config().vocab_size);
    inputs_.upload();
    forward_and_top_k();  // warm-up: first-use workspaces and library handles
    be.synchronize();
    std::unique_ptr<CapturedGraph> graph = be.capture([&] { forward_and_top_k(); });
    if (!graph) return;  // the backend cannot capture: stay eager
    graphs_[size] = std::move(graph);
  }
  log_info("captured decode graphs for batch sizes 1..", config_.max_num_seqs, " (", graphs_.size(), " graphs)");
}

std::vector<int32_t> ModelRunner::graph_batch_sizes() const {
  std::vector<int32_t> sizes;
  for (const auto& [size, graph] : graphs_) sizes.push_back(size);
  return sizes;
}

int32_t ModelRunner::graph_size_for(const StepBatch& batch) const {
  if (graphs_.empty()) return 0;
  for (const StepSequence& seq : batch.seqs)
    if (seq.new_token_ids.size() != 1 || !seq.sample) return 0;  // prefill and chunks run eagerly
  auto it = graphs_.lower_bound(int32_t(batch.seqs.size()));
  return it == graphs_.end() ? 0 : it->first;
}

std::vector<SampledToken> ModelRunner::execute(const StepBatch& batch) {
  Backend& be = model_->backend();
  const int32_t graph_size = graph_size_for(batch);
  inputs_.build(batch, graph_size, model_->config().vocab_size);
  inputs_.upload();
  // Copy-on-write copies first: this step's KV writes may land in their destinations.
  if (inputs_.num_block_copies() > 0) be.copy_blocks(kv_cache_, inputs_.block_copies());
  if (graph_size > 0) graphs_.at(graph_size)->replay();
  else forward_and_top_k();

  const int32_t sampled = inputs_.num_sampled();
  if (sampled == 0) {
    be.synchronize();
    return {};
  }
  bool from_top = true;
  for (const StepSequence& seq : batch.seqs)
    if (seq.sample && !samples_from_top(seq, top_k_)) from_top = false;
  if (from_top) {
    be.copy_to_host_async(top_ids_.slice_rows(0, sampled), h_top_ids_.data);
    be.copy_to_host_async(top_values_.slice_rows(0, sampled), h_top_values_.data);
    be.copy_to_host_async(top_lse_.slice_rows(0, sampled), h_top_lse_.data);
    be.synchronize();
  } else {
    // The forward (eager or replayed) left the sampled rows first in the workspace.
    const Tensor rows = workspace_.logits.slice_rows(0, sampled);
    host_logits_.resize(size_t(rows.numel()));
    be.copy_to_host(rows, host_logits_.data());
  }
  return sample(batch, from_top);
}

std::vector<SampledToken> ModelRunner::sample(const StepBatch& batch, bool from_top) {
  const size_t vocab = size_t(model_->config().vocab_size), k = size_t(top_k_);
  std::vector<SampledToken> out;
  size_t row = 0;
  for (const StepSequence& seq : batch.seqs) {
    if (!seq.sample) continue;
    if (from_top) {
      TopCandidates top{{h_top_ids_.ptr<const int32_t>() + row * k, k},
                        {h_top_values_.ptr<const float>() + row * k, k},
                        h_top_lse_.ptr<const float>()[row]};
      out.push_back(sample_from_top(top, seq));
    } else {
      out.push_back(sample_token({host_logits_.data() + row * vocab, vocab}, seq, scratch_));
    }
    ++row;
  }
  return out;
}

}  // namespace tern
