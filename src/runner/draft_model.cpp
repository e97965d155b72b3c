#include "runner/draft_model.h"

#include <algorithm>

#include "base/error.h"

namespace tern {

DraftModel::DraftModel(std::unique_ptr<LlamaModel> model, const EngineSizes& target_sizes, int64_t target_vocab_size)
    : model_(std::move(model)), sizes_(target_sizes) {
  const int64_t vocab = model_->config().vocab_size;
  if (vocab > target_vocab_size)
    throw error("the draft model's vocabulary (", vocab, " tokens) is larger than the target's (", target_vocab_size,
                "): a draft model must use the target's tokenizer");
  // A step's catch-up adds at most one token per sequence to the target's tokens.
  sizes_.max_num_batched_tokens = target_sizes.max_num_batched_tokens + target_sizes.max_num_seqs;
  sizes_.max_draft_tokens = 0;
  sizes_.max_prompt_logprob_tokens = 0;
  kv_cache_ = model_->make_kv_cache(sizes_.num_kv_blocks, sizes_.block_size);
  workspace_ = model_->make_workspace(sizes_.max_num_batched_tokens, sizes_.max_num_seqs);
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
  const int32_t vocab = int32_t(model_->config().vocab_size);
  const size_t n = batch.seqs.size();
  drafted_ = batch;
  token_buffers_.resize(2 * n);
  std::unordered_map<uint64_t, int32_t> computed;  // this step's sequences only
  StepBatch step{.block_copies = batch.block_copies};
  std::vector<size_t> drafting;  // indices into batch.seqs
  for (size_t i = 0; i < n; ++i) {
    const StepSequence& seq = batch.seqs[i];
    const int32_t known_new = int32_t(seq.new_token_ids.size()) - seq.num_draft_tokens;
    const int32_t end = seq.num_computed_tokens + known_new;
    // Catching up from an older position is always safe (KV recomputed in place): the
    // draft's own count may lag the target's by the draft it never computed.
    int32_t from = seq.num_computed_tokens;
    if (const auto it = computed_.find(seq.seq_id); it != computed_.end()) from = std::min(from, it->second);
    std::vector<int32_t>& tokens = token_buffers_[i];
    tokens.clear();
    const size_t prompt = seq.prompt_token_ids.size();
    for (int32_t p = from; p < end; ++p) {
      const int32_t id = size_t(p) < prompt ? seq.prompt_token_ids[size_t(p)] : seq.output_token_ids[size_t(p) - prompt];
      tokens.push_back(id < vocab ? id : 0);  // an id only the target's padded vocabulary has
    }
    const bool drafts = seq.num_draft_tokens > 0;
    step.seqs.push_back(StepSequence{.seq_id = seq.seq_id,
                                     .num_computed_tokens = from,
                                     .new_token_ids = tokens,
                                     .block_table = seq.block_table,
                                     .sample = drafts});
    computed[seq.seq_id] = end;
    if (drafts) drafting.push_back(i);
  }
  std::vector<int32_t> argmax;
  forward_argmax(step, argmax);
  // Each drafting sequence's draft buffer: its last token, then the drafts.
  for (size_t d = 0; d < drafting.size(); ++d) {
    const StepSequence& seq = batch.seqs[drafting[d]];
    std::vector<int32_t>& draft = token_buffers_[n + drafting[d]];
    draft.assign({seq.new_token_ids[0], argmax[d]});
  }
  // Drafts 2..K, one forward each, over the sequences that want more.
  for (int32_t r = 1;; ++r) {
    step = StepBatch{};
    std::vector<size_t> more;
    for (size_t i : drafting) {
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
      computed[batch.seqs[more[m]].seq_id] = batch.seqs[more[m]].num_computed_tokens + r + 1;
    }
  }
  for (size_t i : drafting) {
    const std::vector<int32_t>& draft = token_buffers_[n + i];
    TERN_CHECK(draft.size() == batch.seqs[i].new_token_ids.size(), "sequence ", batch.seqs[i].seq_id, " got ",
               draft.size() - 1, " drafts for ", batch.seqs[i].num_draft_tokens);
    drafted_.seqs[i].new_token_ids = draft;
  }
  computed_ = std::move(computed);
  return drafted_;
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
    if (auto it = computed_.find(seq.seq_id); it != computed_.end()) it->second = std::min(it->second, verified);
  }
}

}  // namespace tern
