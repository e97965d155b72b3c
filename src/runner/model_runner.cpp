#include "runner/model_runner.h"

#include <algorithm>
#include <limits>

#include "base/error.h"
#include "base/log.h"
#include "base/thread_pool.h"
#include "runner/test_hooks.h"

namespace tern {
namespace {

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

std::vector<ModelRank> single_rank(std::unique_ptr<LlamaModel> model, std::unique_ptr<Backend> backend) {
  std::vector<ModelRank> ranks(1);
  ranks[0].backend = std::move(backend);
  ranks[0].model = std::move(model);
  return ranks;
}

}  // namespace

EngineSizes resolve_model_len(EngineSizes sizes, const LlamaModel& model) {
  if (sizes.max_model_len == 0) sizes.max_model_len = int32_t(model.config().max_position_embeddings);
  return sizes;
}

ModelRunner::ModelRunner(std::unique_ptr<LlamaModel> model, ModelRunnerConfig config, std::unique_ptr<Backend> backend)
    : ModelRunner(single_rank(std::move(model), std::move(backend)), config, std::make_unique<RankThreads>(1)) {}

ModelRunner::ModelRunner(std::vector<ModelRank> ranks, ModelRunnerConfig config, std::unique_ptr<RankThreads> threads)
    : threads_(std::move(threads)), config_(config) {
  TERN_CHECK(!ranks.empty() && threads_ && threads_->size() == int(ranks.size()), ranks.size(), " ranks");
  for (size_t r = 0; r < ranks.size(); ++r) {
    const ModelShard& shard = ranks[r].model->shard();
    TERN_CHECK(shard.rank == int(r) && shard.size == int(ranks.size()), "rank ", r, " holds shard ", shard.rank, " of ",
               shard.size);
    ranks_.push_back(Rank{.owned = std::move(ranks[r])});
  }
  const LlamaModel& model0 = *ranks_[0].owned.model;
  config_.sizes = resolve_model_len(config_.sizes, model0);
  const EngineSizes& sizes = config_.sizes;
  TERN_CHECK(sizes.block_size > 0 && sizes.num_kv_blocks > 0, "runner needs a KV pool");
  const int64_t s = sizes.max_sampled_rows(), vocab = model0.config().vocab_size;
  top_k_ = int32_t(std::min<int64_t>(kTopCandidates, vocab));
  Backend& be0 = model0.backend();
  top_ids_ = be0.alloc(DType::kI32, {s, top_k_});
  top_values_ = be0.alloc(DType::kF32, {s, top_k_});
  top_lse_ = be0.alloc(DType::kF32, {s});
  h_top_ids_ = be0.alloc_staging(DType::kI32, {s, top_k_});
  h_top_values_ = be0.alloc_staging(DType::kF32, {s, top_k_});
  h_top_lse_ = be0.alloc_staging(DType::kF32, {s});
  mask_words_ = int32_t((vocab + 31) / 32);
  mask_rows_ = be0.alloc(DType::kI32, {s, 1});
  masks_ = be0.alloc(DType::kI32, {s, mask_words_});
  h_mask_rows_ = be0.alloc_staging(DType::kI32, {s, 1});
  h_masks_ = be0.alloc_staging(DType::kI32, {s, mask_words_});
  // Room for every sampled sequence to penalise about a thousand distinct tokens; a step
  // that needs more is adjusted on the host instead.
  max_adjustments_ = std::clamp<int64_t>(s * 1024, int64_t(1) << 16, int64_t(1) << 20);
  adjust_targets_ = be0.alloc(DType::kI32, {max_adjustments_, 2});
  adjust_amounts_ = be0.alloc(DType::kF32, {max_adjustments_, 3});
  h_adjust_targets_ = be0.alloc_staging(DType::kI32, {max_adjustments_, 2});
  h_adjust_amounts_ = be0.alloc_staging(DType::kF32, {max_adjustments_, 3});
  on_ranks([&](Rank& rank, int index) {
    const LlamaModel& model = *rank.owned.model;
    rank.kv_cache = model.make_kv_cache(config_.sizes.num_kv_blocks, config_.sizes.block_size);
    rank.workspace =
        model.make_workspace(config_.sizes.max_num_batched_tokens, config_.sizes.max_logits_rows());
    rank.inputs = std::make_unique<StepInputs>(model.backend(), sizes);
    capture_graphs(rank, index);
  });
  if (!ranks_[0].graphs.empty())
    log_info("captured decode graphs for batch sizes 1..", config_.sizes.max_num_seqs, " (", ranks_[0].graphs.size(),
             " graphs", ranks_.size() > 1 ? " on each rank)" : ")");
  memory_.weights_bytes = int64_t(model0.weights_device_bytes());
  memory_.workspace_bytes = int64_t(
      model0.workspace_bytes(config_.sizes.max_num_batched_tokens, config_.sizes.max_logits_rows()));
  memory_.kv_block_bytes = int64_t(model0.kv_block_bytes(config_.sizes.block_size));
  if (const MemoryInfo device = be0.memory_info(); device.total_bytes > 0) {
    memory_.device_used_bytes = int64_t(device.total_bytes - device.free_bytes);
    memory_.device_total_bytes = int64_t(device.total_bytes);
  }
}

void ModelRunner::on_ranks(const std::function<void(Rank&, int)>& job) {
  threads_->run([&](int index) { job(ranks_[size_t(index)], index); },
                [&] {
                  for (Rank& rank : ranks_)
                    if (rank.owned.comm) rank.owned.comm->abort();
                });
}

void ModelRunner::forward_and_top_k(Rank& rank, int index) {
  const LlamaModel& model = *rank.owned.model;
  const Tensor logits = model.forward(rank.inputs->forward_inputs(), rank.kv_cache, rank.workspace);
  const int64_t rows = rank.inputs->num_top_k_rows();  // the rows after them score prompt positions
  if (index == 0 && rows > 0)
    model.backend().top_k(logits.slice_rows(0, rows), top_k_, top_ids_.slice_rows(0, rows),
                          top_values_.slice_rows(0, rows), top_lse_.slice_rows(0, rows));
}

void ModelRunner::capture_graphs(Rank& rank, int index) {
  Backend& be = rank.owned.model->backend();
  // Capture with all-padding batches: the graph records kernels and buffer addresses;
  // the contents come from each step's upload.
  static const SamplingParams kGreedy{.temperature = 0.0f};
  const int32_t one_block = 0;
  const int32_t token = 0;
  // Largest first: workspaces that grow on first use reach their final size before any
  // graph records their address. Eager runners warm up at the largest size too, so that no
  // step allocates (or frees) device memory: with tensor parallelism, a cudaFree that waits
  // for this GPU while its NCCL kernel waits for another rank is a hang risk.
  std::vector<int32_t> sizes = graph_sizes(std::min(config_.sizes.max_num_seqs, config_.sizes.max_num_batched_tokens));
  std::reverse(sizes.begin(), sizes.end());
  const int64_t vocab = rank.owned.model->config().vocab_size;
  if (be.device() != Device::kCpu) {
    // First one eager step of the most tokens a step takes (a prefill chunk), whose
    // workspaces (INT4 activation gathers, attention partials) outgrow any decode step's:
    // a workspace that grew after a capture would leave its graph a freed address. Its KV
    // lands in block 0, which holds nothing yet.
    const int32_t tokens = std::min(config_.sizes.max_num_batched_tokens, config_.sizes.max_model_len);
    const std::vector<int32_t> ids(size_t(tokens), 0);
    const std::vector<int32_t> blocks(size_t((tokens + config_.sizes.block_size - 1) / config_.sizes.block_size), 0);
    StepSequence prefill{.seq_id = 0, .new_token_ids = ids, .block_table = blocks, .sample = true, .params = &kGreedy};
    rank.inputs->build(StepBatch{.seqs = {prefill}}, 0, vocab);
    rank.inputs->upload();
    forward_and_top_k(rank, index);
    be.synchronize();
  }
  for (int32_t size : sizes) {
    StepSequence seq{.seq_id = 0, .new_token_ids = {&token, 1}, .block_table = {&one_block, 1}, .params = &kGreedy};
    rank.inputs->build(StepBatch{.seqs = {seq}}, size, vocab);
    rank.inputs->upload();
    forward_and_top_k(rank, index);  // warm-up: first-use workspaces, library handles, NCCL connections
    be.synchronize();
    if (config_.enforce_eager) return;
    std::unique_ptr<CapturedGraph> graph = be.capture([&] { forward_and_top_k(rank, index); });
    if (!graph) return;  // the backend cannot capture: stay eager
    rank.graphs[size] = std::move(graph);
  }
}

std::vector<int32_t> ModelRunner::graph_batch_sizes() const {
  std::vector<int32_t> sizes;
  for (const auto& [size, graph] : ranks_[0].graphs) sizes.push_back(size);
  return sizes;
}

int32_t ModelRunner::graph_size_for(const StepBatch& batch) const {
  const auto& graphs = ranks_[0].graphs;
  if (graphs.empty()) return 0;
  for (const StepSequence& seq : batch.seqs)
    if (seq.new_token_ids.size() != 1 || !seq.sample) return 0;  // prefill and chunks run eagerly
  auto it = graphs.lower_bound(int32_t(batch.seqs.size()));
  return it == graphs.end() ? 0 : it->first;
}

void ModelRunner::set_draft_model(std::unique_ptr<LlamaModel> draft) {
  TERN_CHECK(ranks_.size() == 1, "a draft model needs a single rank, not ", ranks_.size());
  TERN_CHECK(config_.sizes.max_draft_tokens > 0, "a draft model needs sizes with max_draft_tokens > 0");
  TERN_CHECK(&draft->backend() == &model().backend(), "the draft model must be on the target's backend");
  memory_.weights_bytes += int64_t(draft->weights_device_bytes());
  memory_.kv_block_bytes += int64_t(draft->kv_block_bytes(config_.sizes.block_size));
  draft_ = std::make_unique<DraftModel>(std::move(draft), config_.sizes, model().config().vocab_size);
}

std::vector<SampledToken> ModelRunner::execute(const StepBatch& scheduled) {
  test_hooks::before_step(scheduled);
  // With a draft model its drafts replace the scheduler's placeholders.
  const StepBatch& batch = draft_ ? draft_->propose(scheduled) : scheduled;
  const int32_t graph_size = graph_size_for(batch);
  const int64_t vocab = model().config().vocab_size;
  expand_sampled_rows(batch);
  bool from_top = true, rows_adjusted = true;
  for (const StepSequence& row : sampled_rows_)
    if (!samples_from_top(row, top_k_)) from_top = false;
  on_ranks([&](Rank& rank, int index) {
    Backend& be = rank.owned.model->backend();
    rank.inputs->build(batch, graph_size, vocab);
    rank.inputs->upload();
    // Copy-on-write copies first: this step's KV writes may land in their destinations.
    if (rank.inputs->num_block_copies() > 0) be.copy_blocks(rank.kv_cache, rank.inputs->block_copies());
    if (graph_size > 0)
      rank.graphs.at(graph_size)->replay();
    else
      forward_and_top_k(rank, index);
    const int32_t sampled = rank.inputs->num_sampled();
    if (index == 0 && sampled > 0) {
      rows_adjusted = prepare_sampled_rows(rank, batch, from_top);
      if (!rows_adjusted) from_top = false;
    }
    if (index == 0 && !rank.inputs->prompt_rows().empty()) score_prompt_rows(rank, batch);
    if (index != 0 || sampled == 0) {
      be.synchronize();  // the staged inputs may be rewritten next step
      return;
    }
    if (from_top) {
      be.copy_to_host_async(top_ids_.slice_rows(0, sampled), h_top_ids_.data);
      be.copy_to_host_async(top_values_.slice_rows(0, sampled), h_top_values_.data);
      be.copy_to_host_async(top_lse_.slice_rows(0, sampled), h_top_lse_.data);
      be.synchronize();
    } else {
      // The forward (eager or replayed) left the sampled rows first in the workspace.
      const Tensor rows = rank.workspace.logits.slice_rows(0, sampled);
      host_logits_.resize(size_t(rows.numel()));
      be.copy_to_host(rows, host_logits_.data());
    }
  });
  if (sampled_rows_.empty()) return {};
  std::vector<SampledToken> tokens = verify_drafts(batch, sample(from_top, rows_adjusted));
  if (draft_) draft_->after_verify(batch, tokens);
  return tokens;
}

void ModelRunner::expand_sampled_rows(const StepBatch& batch) {
  sampled_rows_.clear();
  draft_outputs_.clear();
  for (const StepSequence& seq : batch.seqs) {
    if (!seq.sample || seq.num_draft_tokens == 0) continue;
    draft_outputs_.insert(draft_outputs_.end(), seq.output_token_ids.begin(), seq.output_token_ids.end());
    const auto drafts = seq.new_token_ids.last(size_t(seq.num_draft_tokens));
    draft_outputs_.insert(draft_outputs_.end(), drafts.begin(), drafts.end());
  }
  size_t offset = 0;  // spans into draft_outputs_ once it is complete
  for (const StepSequence& seq : batch.seqs) {
    if (!seq.sample) continue;
    if (seq.num_draft_tokens == 0) {
      sampled_rows_.push_back(seq);
      continue;
    }
    const size_t known = seq.output_token_ids.size(), drafts = size_t(seq.num_draft_tokens);
    const std::span<const int32_t> output(draft_outputs_.data() + offset, known + drafts);
    for (size_t r = 0; r <= drafts; ++r) {
      StepSequence row = seq;
      row.output_token_ids = output.first(known + r);
      row.num_draft_tokens = 0;
      if (seq.mask_row >= 0) row.mask_row = seq.mask_row + int32_t(r);
      sampled_rows_.push_back(row);
    }
    offset += known + drafts;
  }
}

std::vector<SampledToken> ModelRunner::verify_drafts(const StepBatch& batch, std::vector<SampledToken> rows) {
  std::vector<SampledToken> out;
  size_t row = 0;
  for (const StepSequence& seq : batch.seqs) {
    if (!seq.sample) continue;
    const auto drafts = seq.new_token_ids.last(size_t(seq.num_draft_tokens));
    if (test_hooks::force_acceptance(seq, std::span(rows).subspan(row, drafts.size() + 1), out)) {
      row += drafts.size() + 1;
      continue;
    }
    for (size_t r = 0; r <= drafts.size(); ++r) {
      SampledToken& token = rows[row + r];
      const bool accepted = !token.numerical_error && r < drafts.size() && token.token_id == drafts[r];
      out.push_back(std::move(token));
      if (!accepted) break;
    }
    row += drafts.size() + 1;
  }
  return out;
}

bool ModelRunner::prepare_sampled_rows(Rank& rank, const StepBatch& batch, bool from_top) {
  Backend& be = rank.owned.model->backend();
  const int64_t sampled = int64_t(sampled_rows_.size());
  const Tensor logits = rank.workspace.logits.slice_rows(0, sampled);
  const int32_t vocab = int32_t(logits.cols());
  // Collected while the forward runs.
  int32_t* targets = h_adjust_targets_.ptr<int32_t>();
  float* amounts = h_adjust_amounts_.ptr<float>();
  int64_t n = 0;
  bool fits = true;
  int32_t row = 0;
  for (const StepSequence& seq : sampled_rows_) {
    if (fits && has_logit_adjustments(seq)) {
      adjustments_.clear();
      adjuster_.collect(seq, vocab, adjustments_);
      fits = n + int64_t(adjustments_.size()) <= max_adjustments_;
      for (size_t i = 0; fits && i < adjustments_.size(); ++i, ++n) {
        const LogitAdjustment& a = adjustments_[i];
        targets[2 * n] = row, targets[2 * n + 1] = a.token;
        amounts[3 * n] = a.bias, amounts[3 * n + 1] = a.repetition, amounts[3 * n + 2] = a.subtract;
      }
    }
    ++row;
  }
  const bool masked = batch.token_masks != nullptr && apply_token_masks(rank, batch, logits);
  if (fits && n > 0) {
    const Tensor d_targets = adjust_targets_.slice_rows(0, n), d_amounts = adjust_amounts_.slice_rows(0, n);
    be.copy_from_host_async(d_targets, h_adjust_targets_.data);
    be.copy_from_host_async(d_amounts, h_adjust_amounts_.data);
    be.adjust_logits(logits, d_targets, d_amounts);
  }
  if (fits && from_top && (masked || n > 0))
    be.top_k(logits, top_k_, top_ids_.slice_rows(0, sampled), top_values_.slice_rows(0, sampled),
             top_lse_.slice_rows(0, sampled));
  return fits;
}

bool ModelRunner::apply_token_masks(Rank& rank, const StepBatch& batch, const Tensor& logits) {
  const TokenMaskRows masks = batch.token_masks->wait();
  const size_t copy_words = size_t(std::min(mask_words_, masks.words_per_row));
  int32_t* rows = h_mask_rows_.ptr<int32_t>();
  uint32_t* words = reinterpret_cast<uint32_t*>(h_masks_.ptr<int32_t>());
  int32_t n = 0, row = 0;
  for (const StepSequence& seq : sampled_rows_) {
    if (seq.mask_row >= 0) {
      TERN_CHECK(size_t(seq.mask_row + 1) * size_t(masks.words_per_row) <= masks.words.size(), "sequence ", seq.seq_id,
                 " has mask row ", seq.mask_row, " of ", masks.words.size() / std::max(1, masks.words_per_row));
      rows[n] = row;
      uint32_t* dst = words + size_t(n) * size_t(mask_words_);
      std::copy_n(masks.words.begin() + int64_t(seq.mask_row) * masks.words_per_row, copy_words, dst);
      std::fill(dst + copy_words, dst + mask_words_, 0u);  // columns past the grammar's vocabulary
      ++n;
    }
    ++row;
  }
  if (n == 0) return false;
  Backend& be = rank.owned.model->backend();
  const Tensor d_rows = mask_rows_.slice_rows(0, n), d_masks = masks_.slice_rows(0, n);
  be.copy_from_host_async(d_rows, h_mask_rows_.data);
  be.copy_from_host_async(d_masks, h_masks_.data);
  be.mask_logits(logits, d_rows, d_masks);
  return true;
}

void ModelRunner::score_prompt_rows(Rank& rank, const StepBatch& batch) {
  const auto& rows = rank.inputs->prompt_rows();
  const int64_t first = rank.inputs->num_top_k_rows(), n = int64_t(rows.size());
  const size_t vocab = size_t(model().config().vocab_size);
  prompt_logits_.resize(size_t(n) * vocab);
  rank.owned.model->backend().copy_to_host(rank.workspace.logits.slice_rows(first, first + n), prompt_logits_.data());
  for (int64_t r = 0; r < n; ++r) {
    const auto [seq_index, position] = rows[size_t(r)];
    const StepSequence& seq = batch.seqs[size_t(seq_index)];
    const float* logits = prompt_logits_.data() + size_t(r) * vocab;
    const int32_t target = seq.prompt_token_ids[size_t(position) + 1];
    TERN_CHECK(size_t(position) < seq.prompt_logprobs_out.size(), "sequence ", seq.seq_id, " scores position ",
               position, " of ", seq.prompt_logprobs_out.size());
    seq.prompt_logprobs_out[size_t(position)] = score_position(logits, vocab, target, seq.prompt_logprobs, scratch_);
  }
}

std::vector<SampledToken> ModelRunner::sample(bool from_top, bool rows_adjusted) {
  const size_t vocab = size_t(model().config().vocab_size), k = size_t(top_k_);
  const std::vector<StepSequence>& sampled = sampled_rows_;
  for (size_t row = 0; row < sampled.size(); ++row) {
    if (!test_hooks::poison_logits(sampled[row])) continue;
    float* logits = from_top ? h_top_values_.ptr<float>() + row * k : host_logits_.data() + row * vocab;
    logits[0] = std::numeric_limits<float>::quiet_NaN();
  }
  std::vector<SampledToken> out(sampled.size());
  if (from_top) {
    for (size_t row = 0; row < sampled.size(); ++row) {
      TopCandidates top{{h_top_ids_.ptr<const int32_t>() + row * k, k},
                        {h_top_values_.ptr<const float>() + row * k, k},
                        h_top_lse_.ptr<const float>()[row]};
      out[row] = sample_from_top(top, sampled[row]);
    }
    return out;
  }
  // A full row costs milliseconds on the host (152K logits), so rows are spread over the
  // host's cores; each draw depends only on its row and sequence, never on the thread.
  ThreadPool::global().parallel_for(int64_t(sampled.size()), 1, [&](int64_t begin, int64_t end) {
    thread_local SamplerScratch scratch;
    for (int64_t row = begin; row < end; ++row) {
      const std::span<const float> logits{host_logits_.data() + size_t(row) * vocab, vocab};
      const StepSequence& seq = sampled[size_t(row)];
      out[size_t(row)] = rows_adjusted ? sample_adjusted_row(logits, seq, scratch) : sample_token(logits, seq, scratch);
    }
  });
  return out;
}

}  // namespace tern
