// Test doubles for the engine tests: a tokenizer with one byte per id, and a model executor
// that keeps a fake paged KV cache. The executor runs the step's block copies (checking the
// copy contract as the CPU backend does), writes each new token into the slot its block
// table names and, to sample, reads the whole sequence back through the block table, so a
// wrong table, a block shared while written, a missing or wrong copy-on-write copy, or a bad
// prefix-cache hit changes the tokens it reads, and with them its output (and is reported
// as a test failure). The next token is a pure function of the tokens read (and the seed
// unless greedy), so a request's output is the same alone, in any batch and after
// preemption.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/model_executor.h"
#include "tokenizer/tokenizer.h"

namespace tern::testing {

// Ids 0-255 are single bytes; 256 .. kEosId - 1 are the words "w<id> "; kEosId and
// kImEndId are special tokens.
class FakeTokenizer : public Tokenizer {
 public:
  static constexpr int32_t kVocabSize = 512;
  static constexpr int32_t kEosId = 510;
  static constexpr int32_t kImEndId = 511;

  using Tokenizer::encode;
  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& /*options*/) const override {
    std::vector<int32_t> ids;
    for (unsigned char c : text) ids.push_back(c);
    return ids;
  }
  std::vector<TextRange> find_special_tokens(std::string_view) const override { return {}; }
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const override {
    std::string text;
    for (int32_t id : ids) text += token_bytes(id, skip_special_tokens);
    return text;
  }
  int32_t vocab_size() const override { return kVocabSize; }
  std::optional<int32_t> token_to_id(std::string_view) const override { return std::nullopt; }
  std::string id_to_token(int32_t id) const override { return token_bytes(id, false); }
  bool is_special(int32_t id) const override { return id >= kEosId; }
  std::string token_bytes(int32_t id, bool skip_special) const override {
    if (id < 0 || id >= kVocabSize) return "";
    if (id < 256) return std::string(1, static_cast<char>(id));
    if (id == kEosId) return skip_special ? "" : "<|eos|>";
    if (id == kImEndId) return skip_special ? "" : "<|im_end|>";
    return "w" + std::to_string(id) + " ";
  }
  std::optional<int32_t> eos_token_id() const override { return kEosId; }
  std::optional<int32_t> bos_token_id() const override { return std::nullopt; }
  const std::string& chat_template() const override { return chat_template_; }

 private:
  std::string chat_template_;
};

inline uint64_t fake_mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

// The default next token: a hash of every token of the sequence, mixed with the seed
// unless the request is greedy. Roughly one token in 512 is the eos id.
inline int32_t fake_next_token(const StepSequence& seq, std::span<const int32_t> tokens) {
  uint64_t h = 0x1234567;
  for (int32_t t : tokens) h = fake_mix(h ^ static_cast<uint32_t>(t));
  if (!seq.params->greedy()) h = fake_mix(h ^ seq.seed);
  return static_cast<int32_t>(h % FakeTokenizer::kVocabSize);
}

// The fake model's sizes: EngineSizes, with a pool of 256 blocks and 4096 positions where
// they are left at 0. It scores no prompt positions (max_prompt_logprob_tokens is 0).
using FakeModelOptions = EngineSizes;

inline EngineSizes fake_model_sizes(EngineSizes sizes) {
  if (sizes.num_kv_blocks == 0) sizes.num_kv_blocks = 256;
  if (sizes.max_model_len == 0) sizes.max_model_len = 4096;
  sizes.max_prompt_logprob_tokens = 0;
  return sizes;
}

class FakeExecutor : public ModelExecutor {
 public:
  using NextToken = std::function<int32_t(const StepSequence&, std::span<const int32_t> tokens)>;
  struct Record {
    uint64_t seq_id;
    int32_t num_computed_tokens;
    int32_t num_new_tokens;
    bool sample;
    int32_t num_draft_tokens;
  };

  explicit FakeExecutor(FakeModelOptions options = {}, NextToken next = fake_next_token)
      : options_(fake_model_sizes(options)),
        next_(std::move(next)),
        slots_(static_cast<size_t>(options_.num_kv_blocks) * options_.block_size) {}

  // Every execute() call, in order. Read it only while no engine thread runs.
  std::vector<std::vector<Record>> steps;
  // Returns true for a sequence whose logits should come back non-finite.
  std::function<bool(const StepSequence&)> nan_when;
  // execute() throws tern::Error on this call (0-based), to test engine failure.
  std::optional<size_t> throw_on_step;
  // execute() takes at least this long per token computed, so step times grow with the
  // step's size as a model's do (the engine's step cost model learns from them).
  std::chrono::microseconds delay_per_token{0};

  const EngineSizes& sizes() const override { return options_; }

  std::vector<SampledToken> execute(const StepBatch& batch) override {
    if (throw_on_step && *throw_on_step == steps.size()) throw error("fake executor: injected failure");
    if (delay_per_token.count() > 0) {
      size_t tokens = 0;
      for (const StepSequence& seq : batch.seqs) tokens += seq.new_token_ids.size();
      std::this_thread::sleep_for(delay_per_token * int64_t(tokens));
    }
    std::vector<Record>& records = steps.emplace_back();
    num_block_copies += static_cast<int64_t>(batch.block_copies.size());
    copy_blocks(batch.block_copies);
    // Structured output: a token whose mask bit is clear is never sampled.
    TokenMaskRows masks;
    if (batch.token_masks) masks = batch.token_masks->wait();
    const auto masked_out = [&](const StepSequence& seq, int32_t id) {
      if (seq.mask_row < 0) return false;
      EXPECT_NE(batch.token_masks, nullptr) << "sequence " << seq.seq_id << " has a mask row but the batch no masks";
      const size_t word = size_t(seq.mask_row) * size_t(masks.words_per_row) + size_t(id) / 32;
      return id >= masks.words_per_row * 32 || !((masks.words[word] >> (id % 32)) & 1u);
    };
    std::vector<SampledToken> sampled;
    for (const StepSequence& seq : batch.seqs) {
      records.push_back({seq.seq_id, seq.num_computed_tokens, static_cast<int32_t>(seq.new_token_ids.size()),
                         seq.sample, seq.num_draft_tokens});
      const int32_t end = seq.num_computed_tokens + static_cast<int32_t>(seq.new_token_ids.size());
      EXPECT_GE(static_cast<int32_t>(seq.block_table.size()) * options_.block_size, end)
          << "sequence " << seq.seq_id << ": block table too short";
      for (int32_t pos = seq.num_computed_tokens; pos < end; ++pos) {
        slots_[slot(seq, pos)] = {seq.new_token_ids[pos - seq.num_computed_tokens], pos};
      }
      if (!seq.sample) continue;
      // Speculative drafts: row r reads the known tokens and drafts 1..r, and the tokens
      // stop at the first row whose token is not the next draft (ModelExecutor::execute).
      const auto drafts = seq.new_token_ids.last(static_cast<size_t>(seq.num_draft_tokens));
      std::vector<int32_t> known(seq.prompt_token_ids.begin(), seq.prompt_token_ids.end());
      known.insert(known.end(), seq.output_token_ids.begin(), seq.output_token_ids.end());
      for (size_t r = 0; r <= drafts.size(); ++r) {
        std::vector<int32_t> tokens;
        for (int32_t pos = 0; pos < static_cast<int32_t>(known.size()); ++pos) {
          const Slot& s = slots_[slot(seq, pos)];
          EXPECT_EQ(s.position, pos) << "sequence " << seq.seq_id << " reads a slot written for another position";
          tokens.push_back(s.token);
        }
        EXPECT_EQ(tokens, known) << "sequence " << seq.seq_id << ": the KV cache holds other tokens";
        StepSequence row = seq;  // row r's mask follows its drafts
        if (seq.mask_row >= 0) row.mask_row = seq.mask_row + static_cast<int32_t>(r);
        SampledToken token = sample(row, tokens, masked_out);
        const bool accepted = !token.numerical_error && r < drafts.size() && token.token_id == drafts[r];
        sampled.push_back(std::move(token));
        if (!accepted) break;
        known.push_back(drafts[r]);
      }
    }
    return sampled;
  }

  // Draft tokens seen over all steps.
  int64_t num_draft_tokens() const {
    int64_t total = 0;
    for (const auto& step : steps)
      for (const Record& r : step) total += r.num_draft_tokens;
    return total;
  }

  // Block copies run over all steps.
  int64_t num_block_copies = 0;

  // Tokens computed for one sequence over all steps, and how many steps it took part in.
  int32_t num_computed_for(uint64_t seq_id) const {
    int32_t total = 0;
    for (const auto& step : steps) {
      for (const Record& r : step) total += r.seq_id == seq_id ? r.num_new_tokens : 0;
    }
    return total;
  }

 private:
  struct Slot {
    int32_t token = -1;
    int32_t position = -1;
  };

  template <typename MaskedOut>
  SampledToken sample(const StepSequence& seq, const std::vector<int32_t>& tokens, const MaskedOut& masked_out) {
    SampledToken token;
    token.seq_id = seq.seq_id;
    if (nan_when && nan_when(seq)) {
      token.numerical_error = true;
      return token;
    }
    int32_t id = next_(seq, tokens);
    for (int32_t tries = 0;
         std::ranges::find(seq.banned_token_ids, id) != seq.banned_token_ids.end() || masked_out(seq, id); ++tries) {
      if (tries == FakeTokenizer::kVocabSize) throw error("fake executor: every token is masked or banned");
      id = (id + 1) % FakeTokenizer::kVocabSize;
    }
    token.token_id = id;
    token.logprob = -0.25f;
    for (int32_t k = 0; k < seq.params->logprobs; ++k) token.top_logprobs.emplace_back(id + k, -0.25f - k);
    return token;
  }

  void copy_blocks(std::span<const BlockCopy> copies) {
    std::vector<int32_t> sources, destinations;
    for (const BlockCopy& c : copies) {
      ASSERT_TRUE(c.src >= 0 && c.src < options_.num_kv_blocks && c.dst >= 0 && c.dst < options_.num_kv_blocks)
          << c.src << " -> " << c.dst;
      sources.push_back(c.src);
      destinations.push_back(c.dst);
    }
    for (const BlockCopy& c : copies) {
      EXPECT_EQ(std::ranges::count(destinations, c.dst), 1) << "block " << c.dst << " is written by two copies";
      EXPECT_EQ(std::ranges::count(sources, c.dst), 0) << "block " << c.dst << " is both copied to and from";
      const auto block = [&](int32_t id) { return slots_.begin() + static_cast<ptrdiff_t>(id) * options_.block_size; };
      std::copy(block(c.src), block(c.src) + options_.block_size, block(c.dst));
    }
  }

  size_t slot(const StepSequence& seq, int32_t pos) const {
    const size_t index = static_cast<size_t>(pos / options_.block_size);
    if (index >= seq.block_table.size()) throw error("fake executor: position ", pos, " beyond the block table");
    return static_cast<size_t>(seq.block_table[index]) * options_.block_size + pos % options_.block_size;
  }

  FakeModelOptions options_;
  NextToken next_;
  std::vector<Slot> slots_;
};

}  // namespace tern::testing
