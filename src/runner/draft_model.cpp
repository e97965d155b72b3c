#include "runner/draft_model.h"

#include <algorithm>

#include "base/error.h"

namespace tern {

EngineSizes draft_model_sizes(const EngineSizes& target) {
  EngineSizes sizes = target;
  sizes.max_num_batched_tokens = 2 * target.max_num_batched_tokens + target.max_num_seqs;
  sizes.max_draft_tokens = 0;
  sizes.max_prompt_logprob_tokens = 0;
  return sizes;
}

DraftModel::DraftModel(std::unique_ptr<LlamaModel> model, const EngineSizes& target_sizes, int64_t target_vocab_size)
    : model_(std::move(model)), sizes_(draft_model_sizes(target_sizes)) {
  const int64_t vocab = model_->config().vocab_size;
  if (vocab > target_vocab_size)
    throw error("the draft model's vocabulary (", vocab, " tokens) is larger than the target's (", target_vocab_size,
                "): a draft model must use the target's tokenizer");
  kv_cache_ = model_->make_kv_cache(sizes_.num_kv_blocks, sizes_.block_size);
  workspace_ = model_->make_workspace(sizes_.max_num_batched_tokens, sizes_.max_logits_rows());
  inputs_ = std::make_unique<StepInputs>(model_->backend(), sizes_);
  Backend& be = model_->backend();
  const int64_t s = sizes_.max_num_seqs;
  top_ids_ = be.alloc(DType::kI32, {s, 1});
  top_values_ = be.alloc(DType::kF32, {s, 1});
  top_lse_ = be.alloc(DType::kF32, {s});
}

void DraftModel::forward_argmax(const StepBatch& steps, std::vector<int32_t>& argmax) {
  Backend& be = model_->backend();
  inputs_->build(steps, 0, model_->config().vocab_size);
  inputs_->upload();
  if (inputs_->num_block_copies() > 0) be.copy_blocks(kv_cache_, inputs_->block_copies());
  const Tensor logits = model_->forward(inputs_->forward_inputs(), kv_cache_, workspace_);
  const int64_t rows = inputs_->num_sampled();
  argmax.clear();
  if (rows == 0) {
    be.synchronize();  // the staged inputs are rewritten by the next forward
    return;
  }
  be.top_k(logits.slice_rows(0, rows), 1, top_ids_.slice_rows(0, rows), top_values_.slice_rows(0, rows),
           top_lse_.slice_rows(0, rows));
  argmax.resize(size_t(rows));
  be.copy_to_host(top_ids_.slice_rows(0, rows), argmax.data());
}

const StepBatch& DraftModel::propose(const StepBatch& batch) {
  ++step_;
  const size_t n = batch.seqs.size();
  std::vector<size_t> drafting, others;  // indices into batch.seqs
  for (size_t i = 0; i < n; ++i) (batch.seqs[i].num_draft_tokens > 0 ? drafting : others).push_back(i);
  const bool decodes = std::ranges::any_of(batch.seqs, [](const StepSequence& seq) {
    return seq.sample && seq.num_draft_tokens == 0 && seq.new_token_ids.size() == 1;
  });
  if (drafting.empty() && decodes) {
    // Sequences decode and none drafts (a batch above the disable-by-batch-size limit):
    // the draft stays idle and catches up when drafting resumes. A sequence it has not
    // seen has everything before this step.
    for (const StepSequence& seq : batch.seqs) {
      Progress& p = progress_.try_emplace(seq.seq_id, Progress{.computed = seq.num_computed_tokens}).first->second;
      p.computed = std::min(p.computed, seq.num_computed_tokens);
      p.seen = step_;
    }
    forget_unseen();
    return batch;
  }
  const int32_t vocab = int32_t(model_->config().vocab_size);
  drafted_ = batch;
  token_buffers_.resize(2 * n);
  StepBatch step{.block_copies = batch.block_copies};
  std::vector<size_t> ready;  // drafting sequences whose catch-up reaches their last token
  // Catch-up within the draft's step budget, drafting sequences first.
  int32_t budget = sizes_.max_num_batched_tokens;
  for (const std::vector<size_t>* group : {&drafting, &others}) {
    for (size_t i : *group) {
      const StepSequence& seq = batch.seqs[i];
      const int32_t end = seq.num_computed_tokens + int32_t(seq.new_token_ids.size()) - seq.num_draft_tokens;
      Progress& p = progress_.try_emplace(seq.seq_id, Progress{.computed = seq.num_computed_tokens}).first->second;
      p.seen = step_;
      // Catching up from an older position is always safe (KV recomputed in place).
      const int32_t from = std::min(p.computed, seq.num_computed_tokens);
      const int32_t take = std::min(end - from, budget);
      p.computed = from + take;
      if (take <= 0) continue;
      budget -= take;
      std::vector<int32_t>& tokens = token_buffers_[i];
      tokens.clear();
      const size_t prompt = seq.prompt_token_ids.size();
      for (int32_t q = from; q < from + take; ++q) {
        const int32_t id =
            size_t(q) < prompt ? seq.prompt_token_ids[size_t(q)] : seq.output_token_ids[size_t(q) - prompt];
        tokens.push_back(id < vocab ? id : 0);  // an id only the target's padded vocabulary has
      }
      const bool drafts = group == &drafting && from + take == end;
      if (drafts) ready.push_back(i);
      step.seqs.push_back(StepSequence{.seq_id = seq.seq_id,
                                       .num_computed_tokens = from,
                                       .new_token_ids = tokens,
                                       .block_table = seq.block_table,
                                       .sample = drafts});
    }
  }
  std::vector<int32_t> argmax;
  forward_argmax(step, argmax);
  // Each drafting sequence's draft buffer: its last token, then the drafts. One the draft
  // could not catch up this step gets its last token repeated, which verification
  // rejects unless it happens to be right.
  for (size_t i : drafting) {
    const StepSequence& seq = batch.seqs[i];
    token_buffers_[n + i].assign(size_t(seq.num_draft_tokens) + 1, seq.new_token_ids[0]);
  }
  for (size_t d = 0; d < ready.size(); ++d) {
    std::vector<int32_t>& draft = token_buffers_[n + ready[d]];
    draft.resize(1);  // the last token
    draft.push_back(argmax[d]);
  }
  // Drafts 2..K, one forward each, over the ready sequences that want more.
  for (int32_t r = 1;; ++r) {
    step = StepBatch{};
    std::vector<size_t> more;
    for (size_t i : ready) {
      const StepSequence& seq = batch.seqs[i];
      if (seq.num_draft_tokens <= r) continue;
      const std::vector<int32_t>& draft = token_buffers_[n + i];
      step.seqs.push_back(StepSequence{.seq_id = seq.seq_id,
                                       .num_computed_tokens = seq.num_computed_tokens + r,
                                       .new_token_ids = {&draft[size_t(r)], 1},
                                       .block_table = seq.block_table,
                                       .sample = true});
      more.push_back(i);
    }
    if (more.empty()) break;
    forward_argmax(step, argmax);
    for (size_t m = 0; m < more.size(); ++m) {
      token_buffers_[n + more[m]].push_back(argmax[m]);
      progress_[batch.seqs[more[m]].seq_id].computed = batch.seqs[more[m]].num_computed_tokens + r + 1;
    }
  }
  for (size_t i : drafting) {
    const std::vector<int32_t>& draft = token_buffers_[n + i];
    TERN_CHECK(draft.size() == batch.seqs[i].new_token_ids.size(), "sequence ", batch.seqs[i].seq_id, " got ",
               draft.size() - 1, " drafts for ", batch.seqs[i].num_draft_tokens);
    drafted_.seqs[i].new_token_ids = draft;
  }
  forget_unseen();
  return drafted_;
}

void DraftModel::forget_unseen() {
  // A sequence that has not been in a step for this long has finished, or waits preempted
  // (it then recomputes from a position the entry does not hold anyway).
  constexpr uint64_t kForgetAfterSteps = 256;
  if (progress_.size() <= size_t(4 * sizes_.max_num_seqs)) return;
  std::erase_if(progress_, [&](const auto& entry) { return entry.second.seen + kForgetAfterSteps < step_; });
}

void DraftModel::after_verify(const StepBatch& batch, const std::vector<SampledToken>& tokens) {
  size_t next = 0;
  for (const StepSequence& seq : batch.seqs) {
    if (!seq.sample) continue;
    size_t count = 0;
    while (next + count < tokens.size() && tokens[next + count].seq_id == seq.seq_id) ++count;
    next += count;
    if (seq.num_draft_tokens == 0) continue;
    // The target now has the last token and the accepted drafts; the draft computed the
    // last token and drafts 1..K-1, so past that only what was accepted is right.
    const int32_t verified = seq.num_computed_tokens + int32_t(count);
    if (auto it = progress_.find(seq.seq_id); it != progress_.end())
      it->second.computed = std::min(it->second.computed, verified);
  }
}

}  // namespace tern
