// Speculative decoding with n-gram (prompt lookup) drafts: the proposer, the scheduler's
// accounting of drafted, accepted and rejected tokens, and the engine's promise that the
// output is the one decoding without drafts gives, token for token, greedy and seeded.
#include <gtest/gtest.h>

#include <numeric>
#include <random>
#include <vector>

#include "engine/ngram_proposer.h"
#include "engine/scheduler.h"
#include "engine_support.h"
#include "grammar_support.h"
#include "scheduler_setup.h"

namespace tern {
namespace {

using namespace tern::testing;

std::vector<int32_t> propose(const std::vector<int32_t>& tokens, int32_t max_tokens, NgramConfig config = {}) {
  std::vector<int32_t> draft;
  propose_ngram(tokens, config, max_tokens, draft);
  return draft;
}

TEST(NgramProposer, ProposesWhatFollowedTheLatestEarlierOccurrenceOfTheSuffix) {
  //                        0  1  2  3  4  5  6  7  8  9 10
  const std::vector<int32_t> t = {5, 6, 7, 1, 5, 6, 8, 2, 9, 5, 6};
  EXPECT_EQ(propose(t, 3), (std::vector<int32_t>{8, 2, 9})) << "the match at 4 is later than the one at 0";
}

TEST(NgramProposer, TheLongestMatchingSuffixWins) {
  const std::vector<int32_t> t = {1, 2, 3, 40, 9, 2, 3, 50, 1, 2, 3};
  // The suffix (2, 3) last occurred before 50, but (1, 2, 3) occurred before 40.
  EXPECT_EQ(propose(t, 2), (std::vector<int32_t>{40, 9}));
}

TEST(NgramProposer, StopsAtTheEndOfTheTokensAndRespectsTheLimit) {
  const std::vector<int32_t> t = {3, 4, 5, 3, 4};
  EXPECT_EQ(propose(t, 8), (std::vector<int32_t>{5, 3, 4}));
  EXPECT_EQ(propose(t, 1), (std::vector<int32_t>{5}));
  EXPECT_TRUE(propose(t, 0).empty());
}

TEST(NgramProposer, NothingWithoutAMatchOfAtLeastMinN) {
  const std::vector<int32_t> t = {1, 2, 3, 4, 9, 4};
  EXPECT_TRUE(propose(t, 4).empty()) << "only a 1-gram matches; min_n is 2";
  EXPECT_EQ(propose(t, 1, NgramConfig{.min_n = 1, .max_n = 4}), (std::vector<int32_t>{9}));
  EXPECT_TRUE(propose({7}, 4).empty());
  EXPECT_TRUE(propose({}, 4).empty());
}

TEST(NgramProposer, ARunOfOneTokenProposesMoreOfIt) {
  EXPECT_EQ(propose({8, 8, 8, 8}, 3), (std::vector<int32_t>{8}))
      << "the latest match (8, 8) at 1 is followed by the last token only";
}

// A fake model whose outputs mostly repeat: the next token is the one 7 positions back,
// except where a hash of the last tokens (and the seed, when sampling) says otherwise, so
// prompt lookup drafts are often but not always right.
int32_t echo_next(const StepSequence& seq, std::span<const int32_t> tokens) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ tokens.size();
  for (size_t i = tokens.size() >= 3 ? tokens.size() - 3 : 0; i < tokens.size(); ++i)
    h = fake_mix(h ^ static_cast<uint32_t>(tokens[i]));
  if (!seq.params->greedy()) h = fake_mix(h ^ seq.seed);
  if (tokens.size() < 7 || h % 5 == 0) return static_cast<int32_t>(h % 256);
  return tokens[tokens.size() - 7];
}

EngineConfig speculative_config(int32_t num_tokens = 4) {
  return EngineConfig{.speculative = {.method = SpeculativeMethod::kNgram,
                                      .num_tokens = num_tokens,
                                      .disable_by_batch_size = 64,
                                      .ngram = {.min_n = 2, .max_n = 4}}};
}

EngineSizes with_drafts(EngineSizes sizes, int32_t max_draft_tokens) {
  sizes.max_draft_tokens = max_draft_tokens;
  return sizes;
}

// `jobs` on the echo model without drafts and with them (`config`, room for
// `max_draft_tokens` a step); every result must be the same. Both engines stay, for their
// counters.
struct WithAndWithout {
  TestEngine plain, spec;
  std::vector<Result> results;  // with drafts
};

WithAndWithout run_with_and_without(const std::vector<Job>& jobs, const EngineSizes& sizes,
                                     const EngineConfig& config, int32_t max_draft_tokens = 64) {
  WithAndWithout r{make_engine(sizes, {}, echo_next), make_engine(with_drafts(sizes, max_draft_tokens), config, echo_next),
                   {}};
  const std::vector<Result> expected = run_together(r.plain, jobs);
  r.results = run_together(r.spec, jobs);
  for (size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(r.results[i], expected[i]) << "request " << i;
  return r;
}

TEST(SpeculativeDecoding, OutputsEqualDecodingWithoutDraftsUnderKvPressure) {
  const std::vector<Job> jobs = mixed_jobs(48, 21);
  for (int32_t k : {1, 3, 8}) {
    SCOPED_TRACE(::testing::Message() << "K " << k);
    const auto [plain, spec, results] = run_with_and_without(jobs, pressure_sizes(), speculative_config(k), 32);
    const EngineStats stats = spec.engine->stats();
    EXPECT_GT(stats.num_preemptions, 0) << "the KV budget is meant to force preemption";
    EXPECT_GT(stats.speculation.num_accepted_tokens, 0);
    EXPECT_LT(stats.speculation.num_accepted_tokens, stats.speculation.num_draft_tokens) << "some drafts are wrong";
    EXPECT_EQ(stats.speculation.num_draft_tokens, spec.executor->num_draft_tokens());
    EXPECT_LT(spec.executor->steps.size(), plain.executor->steps.size()) << "accepted drafts save steps";
    EXPECT_EQ(stats.num_used_kv_blocks, 0) << "blocks of rejected drafts are all returned";
    int64_t verify_steps = 0, accepted = 0;
    for (size_t a = 0; a < stats.speculation.accepted_per_step.size(); ++a) {
      verify_steps += stats.speculation.accepted_per_step[a];
      accepted += int64_t(a) * stats.speculation.accepted_per_step[a];
      if (int32_t(a) > k) {
        EXPECT_EQ(stats.speculation.accepted_per_step[a], 0);
      }
    }
    EXPECT_EQ(accepted, stats.speculation.num_accepted_tokens);
    EXPECT_GT(verify_steps, 0);
  }
}

TEST(SpeculativeDecoding, TheBaselineModesGiveTheSameOutputsWithDrafts) {
  const std::vector<Job> jobs = mixed_jobs(16, 31);
  EngineSizes sizes = pressure_sizes();
  sizes.num_kv_blocks = 256;
  for (SchedulerMode mode : {SchedulerMode::kContinuous, SchedulerMode::kStatic}) {
    for (KvLayout layout : {KvLayout::kPaged, KvLayout::kContiguous}) {
      SCOPED_TRACE(::testing::Message() << "static " << (mode == SchedulerMode::kStatic) << ", contiguous "
                                        << (layout == KvLayout::kContiguous));
      EngineConfig config = speculative_config();
      config.scheduler = mode;
      config.kv_layout = layout;
      const WithAndWithout r = run_with_and_without(jobs, sizes, config, 32);
      EXPECT_GT(r.spec.engine->stats().speculation.num_accepted_tokens, 0);
      EXPECT_EQ(r.spec.engine->stats().num_used_kv_blocks, 0);
    }
  }
}

TEST(SpeculativeDecoding, StopStringsLogprobsNAndMaxTokensBehaveAsWithoutDrafts) {
  std::mt19937 rng(4);
  std::vector<Job> jobs;
  for (int i = 0; i < 12; ++i) {
    Job job{random_tokens(rng, 30), i % 2 ? greedy(40) : seeded(40, 1000 + i, i % 3 == 0 ? 3 : 1)};
    job.params.logprobs = 2;
    job.params.ignore_eos = i % 4 == 0;
    job.params.max_tokens = 5 + i * 3;
    // Byte tokens: the stop string is two bytes the echo often produces together.
    if (i % 3 == 1) job.params.stop = {std::string{char(job.prompt[20]), char(job.prompt[21])}};
    jobs.push_back(job);
  }
  const WithAndWithout r = run_with_and_without(jobs, {}, speculative_config());
  for (size_t i = 0; i < jobs.size(); ++i)
    for (size_t c = 0; c < r.results[i].token_ids.size(); ++c)
      EXPECT_LE(r.results[i].token_ids[c].size(), size_t(jobs[i].params.max_tokens));
  EXPECT_GT(r.spec.engine->stats().speculation.num_accepted_tokens, 0);
}

TEST(SpeculativeDecoding, NoDraftsWhenMoreSequencesDecodeThanTheBatchLimit) {
  EngineConfig config = speculative_config();
  config.speculative.disable_by_batch_size = 3;
  std::mt19937 rng(8);
  std::vector<Job> jobs;
  for (int i = 0; i < 4; ++i) jobs.push_back({random_tokens(rng, 20), greedy(i == 0 ? 5 : 30)});
  for (Job& job : jobs) job.params.ignore_eos = true;
  TestEngine t = make_engine(with_drafts({}, 64), config, echo_next);
  run_together(t, jobs);
  for (const auto& step : t.executor->steps) {
    int32_t decoding = 0, drafts = 0;
    for (const FakeExecutor::Record& r : step) {
      decoding += r.num_new_tokens - r.num_draft_tokens == 1 && r.sample;
      drafts += r.num_draft_tokens;
    }
    if (decoding > 3) {
      EXPECT_EQ(drafts, 0) << decoding << " sequences decode";
    }
  }
  EXPECT_GT(t.engine->stats().speculation.num_draft_tokens, 0) << "the last three draft once the first ends";
}

// 1 1 X 1 1 Y 1 1 Z ...: after each "1 1" comes a new token, so prompt lookup always
// drafts what followed the previous "1 1", and is always wrong.
int32_t counting_next(const StepSequence&, std::span<const int32_t> tokens) {
  const size_t n = tokens.size();
  if (n >= 2 && tokens[n - 1] == 1 && tokens[n - 2] == 1) return 100 + static_cast<int32_t>(n);
  return 1;
}

TEST(SpeculativeDecoding, ASequenceWhoseDraftsAreRejectedDraftsFewer) {
  TestEngine t = make_engine(with_drafts({}, 64), speculative_config(4), counting_next);
  SamplingParams p = greedy(60);
  p.ignore_eos = true;
  RequestHandle h = t.engine->add_request({1, 1, 7, 1, 1, 8, 1, 1}, p);
  t.run();
  const Result adaptive = take(h);
  ASSERT_EQ(adaptive.token_ids.size(), 1u);
  EXPECT_EQ(adaptive.token_ids[0].size(), 60u);
  std::vector<int32_t> drafts;
  for (const auto& step : t.executor->steps)
    for (const FakeExecutor::Record& r : step)
      if (r.num_draft_tokens > 0) drafts.push_back(r.num_draft_tokens);
  ASSERT_GE(drafts.size(), 10u);
  EXPECT_GE(drafts.front(), 3) << "a new sequence drafts all the text offers";
  EXPECT_EQ(drafts.back(), 1) << "after its drafts keep failing, one";
  EXPECT_EQ(t.engine->stats().speculation.num_accepted_tokens, 0);

  EngineConfig fixed = speculative_config(4);
  fixed.speculative.fixed_num_tokens = true;
  TestEngine f = make_engine(with_drafts({}, 64), fixed, counting_next);
  RequestHandle hf = f.engine->add_request({1, 1, 7, 1, 1, 8, 1, 1}, p);
  f.run();
  EXPECT_EQ(take(hf), adaptive);
  std::vector<int32_t> fixed_drafts;
  for (const auto& step : f.executor->steps)
    for (const FakeExecutor::Record& r : step)
      if (r.num_draft_tokens > 0) fixed_drafts.push_back(r.num_draft_tokens);
  // All the text offers (what followed the previous "1 1": X 1 1), but near max_tokens.
  EXPECT_GE(std::ranges::count(fixed_drafts, 3) + 2, std::ssize(fixed_drafts)) << "--speculative-fixed-k";
}

TEST(SpeculativeDecoding, NaNLogitsInAVerifyRowFailOnlyThatRequestAfterItsAcceptedTokens) {
  std::mt19937 rng(17);
  const std::vector<int32_t> bad = random_tokens(rng, 40);
  const std::vector<Job> others = {{random_tokens(rng, 30), greedy(30)}, {random_tokens(rng, 50), seeded(30, 3)}};
  const EngineSizes sizes = with_drafts({}, 64);
  TestEngine t = make_engine(sizes, speculative_config(), echo_next);
  // The bad request's rows turn NaN once it has 12 tokens of output and drafts (its rows
  // see the drafts before them as output).
  t.executor->nan_when = [&](const StepSequence& seq) {
    return seq.prompt_token_ids[0] == bad[0] && seq.output_token_ids.size() >= 12;
  };
  SamplingParams p = greedy(40);
  p.ignore_eos = true;
  RequestHandle hb = t.engine->add_request(bad, p);
  std::vector<RequestHandle> ho;
  for (const Job& job : others) ho.push_back(t.engine->add_request(job.prompt, job.params));
  t.run();
  const Result rb = take(hb);
  EXPECT_EQ(rb.finish[0], FinishReason::kError);
  EXPECT_NE(rb.error.find("numerical"), std::string::npos) << rb.error;
  EXPECT_EQ(rb.token_ids[0].size(), 12u) << "every token before the bad row, none after";
  TestEngine plain = make_engine({}, {}, echo_next);
  const std::vector<Result> expected = run_together(plain, others);  // the others, as without drafts
  for (size_t i = 0; i < others.size(); ++i) EXPECT_EQ(take(ho[i]), expected[i]) << "request " << i;
  EXPECT_EQ(t.engine->stats().num_used_kv_blocks, 0);
}

TEST(SpeculativeDecoding, AnAbortBetweenVerifyStepsReturnsEveryBlock) {
  TestEngine t = make_engine(with_drafts({}, 64), speculative_config(), echo_next);
  std::mt19937 rng(23);
  SamplingParams p = greedy(200);
  p.ignore_eos = true;
  RequestHandle h = t.engine->add_request(random_tokens(rng, 40), p);
  for (int i = 0; i < 12; ++i) t.engine->step();
  EXPECT_GT(t.engine->stats().speculation.num_draft_tokens, 0);
  t.engine->abort(h.request_id());
  t.run();
  EXPECT_EQ(take(h).finish[0], FinishReason::kAbort);
  EXPECT_EQ(t.engine->stats().num_used_kv_blocks, 0);
}

TEST(SpeculativeDecoding, MinTokensDecodesWithoutDrafts) {
  TestEngine t = make_engine(with_drafts({}, 64), speculative_config(), echo_next);
  std::mt19937 rng(2);
  SamplingParams p = greedy(20);
  p.min_tokens = 20;  // the stop ids are banned for every token: no drafts
  RequestHandle h = t.engine->add_request(random_tokens(rng, 20), p);
  t.run();
  EXPECT_EQ(take(h).token_ids[0].size(), 20u);
  EXPECT_EQ(t.executor->num_draft_tokens(), 0);
}

TEST(SpeculativeDecoding, StructuredOutputDraftsWhatTheGrammarAllowsAndGivesTheSameOutputs) {
  // Byte tokens that repeat ("abcab..."), which the echo model continues and prompt lookup
  // drafts; the grammar allows some of them and masks the rest.
  const std::string regex = "([abc]{2,5}x)+(w2[0-9][0-9] )?";
  std::vector<Job> jobs;
  for (int i = 0; i < 12; ++i) {
    std::vector<int32_t> prompt;
    for (int k = 0; k < 30; ++k) prompt.push_back("abcxbcaxcabx"[(k + i) % 12]);
    Job job{prompt, i % 2 ? greedy(40) : seeded(40, 50 + i, i % 3 == 0 ? 2 : 1)};
    job.params.grammar = fake_grammar(regex);
    jobs.push_back(job);
  }
  const WithAndWithout r = run_with_and_without(jobs, {}, speculative_config());
  for (const Result& result : r.results)
    for (const std::string& text : result.text)
      EXPECT_TRUE(grammar::testing::is_prefix(grammar::regex_grammar(regex), text)) << text;
  EXPECT_GT(r.spec.engine->stats().speculation.num_accepted_tokens, 0);
  EXPECT_EQ(r.spec.engine->stats().num_used_kv_blocks, 0);
}

// The scheduler alone: a drafting sequence's table, computed tokens and counters when the
// executor rejects every draft, accepts some, and accepts all.
class SpeculativeScheduler : public ::testing::Test {
 protected:
  SpeculativeScheduler() {
    setup_.block_size = 4;
    setup_.num_kv_blocks = 32;
    setup_.max_model_len = 128;
    setup_.max_num_batched_tokens = 64;
    setup_.max_num_seqs = 4;
    setup_.max_draft_tokens = 16;
    static_cast<EngineConfig&>(setup_) = speculative_config(4);
    scheduler_ = std::make_unique<Scheduler>(setup_, setup_);
    SamplingParams params = greedy(50);
    params.seed = 1;
    // 1 2 3 4 5 1 2 3: the suffix (1 2 3) proposes 4 5 1 2.
    request_ = Request::create(1, {1, 2, 3, 4, 5, 1, 2, 3}, params, 0, {});
    scheduler_->add_request(*request_);
    const SchedulerOutput& prefill = scheduler_->schedule();
    seq_ = prefill.seqs.at(0).seq;
    sampled_ = {sampled(4)};  // the prompt's next token: now 1 2 3 4 5 1 2 3 4
    scheduler_->update_from_output(prefill, sampled_);
  }

  SampledToken sampled(int32_t id) const {
    SampledToken t;
    t.seq_id = seq_->seq_id;
    t.token_id = id;
    return t;
  }

  SchedulerSetup setup_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Request> request_;
  Sequence* seq_ = nullptr;
  std::vector<SampledToken> sampled_;
};

TEST_F(SpeculativeScheduler, ADecodeStepCarriesTheLastTokenAndItsDrafts) {
  const SchedulerOutput& out = scheduler_->schedule();
  ASSERT_EQ(out.seqs.size(), 1u);
  const ScheduledSequence& s = out.seqs[0];
  EXPECT_EQ(s.num_computed_tokens, 8);
  EXPECT_EQ(s.num_draft_tokens, 4);
  EXPECT_EQ(s.num_new_tokens, 5);
  EXPECT_TRUE(s.sample);
  EXPECT_EQ(std::vector<int32_t>(s.new_token_ids().begin(), s.new_token_ids().end()),
            (std::vector<int32_t>{4, 5, 1, 2, 3}));
  EXPECT_EQ(s.block_table.size(), 4u) << "13 tokens of KV in blocks of 4";
}

TEST_F(SpeculativeScheduler, RejectedDraftsReturnTheirBlocks) {
  const SchedulerOutput& out = scheduler_->schedule();
  const int32_t used = scheduler_->kv().pool().num_used_blocks();
  EXPECT_EQ(used, 4);
  sampled_ = {sampled(9)};  // the first draft (5) is wrong
  const auto& updates = scheduler_->update_from_output(out, sampled_);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].sampled.size(), 1u);
  EXPECT_EQ(seq_->num_computed_tokens, 9);
  EXPECT_EQ(seq_->num_tokens(), 10);
  EXPECT_EQ(scheduler_->kv().block_table(seq_->seq_id).size(), 3u) << "10 tokens need 3 blocks of 4";
  EXPECT_EQ(scheduler_->kv().pool().num_used_blocks(), 3);
  EXPECT_EQ(scheduler_->speculation().num_draft_tokens, 4);
  EXPECT_EQ(scheduler_->speculation().num_accepted_tokens, 0);
  EXPECT_EQ(scheduler_->speculation().accepted_per_step[0], 1);
}

TEST_F(SpeculativeScheduler, AcceptedDraftsCountAsComputedAndTheNextTokenFollows) {
  const SchedulerOutput& out = scheduler_->schedule();
  sampled_ = {sampled(5), sampled(1), sampled(7)};  // drafts 5 and 1 accepted, then 7 instead of 2
  const auto& updates = scheduler_->update_from_output(out, sampled_);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].sampled.size(), 3u);
  EXPECT_FALSE(updates[0].finish);
  EXPECT_EQ(seq_->num_computed_tokens, 11) << "the last token and the two accepted drafts";
  EXPECT_EQ(std::vector<int32_t>(seq_->token_ids.begin() + 8, seq_->token_ids.end()),
            (std::vector<int32_t>{4, 5, 1, 7}));
  EXPECT_EQ(scheduler_->speculation().num_accepted_tokens, 2);
  EXPECT_EQ(scheduler_->speculation().accepted_per_step[2], 1);
  const SchedulerOutput& next = scheduler_->schedule();
  ASSERT_EQ(next.seqs.size(), 1u);
  EXPECT_EQ(next.seqs[0].num_computed_tokens, 11);
  EXPECT_EQ(next.seqs[0].new_token_ids()[0], 7);
}

TEST_F(SpeculativeScheduler, AllDraftsAcceptedGiveKPlusOneTokens) {
  const SchedulerOutput& out = scheduler_->schedule();
  sampled_ = {sampled(5), sampled(1), sampled(2), sampled(3), sampled(6)};
  const auto& updates = scheduler_->update_from_output(out, sampled_);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].sampled.size(), 5u);
  EXPECT_EQ(seq_->num_computed_tokens, 13);
  EXPECT_EQ(seq_->num_tokens(), 14);
  EXPECT_EQ(scheduler_->speculation().accepted_per_step[4], 1);
}

TEST_F(SpeculativeScheduler, TheExecutorMayNotReturnMoreThanKPlusOneTokens) {
  const SchedulerOutput& out = scheduler_->schedule();
  sampled_ = {sampled(5), sampled(1), sampled(2), sampled(3), sampled(4), sampled(5)};
  EXPECT_THROW(scheduler_->update_from_output(out, sampled_), Error);
}

TEST_F(SpeculativeScheduler, ANumericalErrorAfterAcceptedDraftsFailsTheRequestAfterThem) {
  const SchedulerOutput& out = scheduler_->schedule();
  SampledToken bad = sampled(-1);
  bad.numerical_error = true;
  bad.error = "row 2";
  sampled_ = {sampled(5), bad};
  const auto& updates = scheduler_->update_from_output(out, sampled_);
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].sampled.size(), 1u) << "the token before the bad row is output";
  EXPECT_EQ(updates[1].finish, FinishReason::kError);
  EXPECT_EQ(seq_->status, SequenceStatus::kFinished);
  EXPECT_NE(request_->error_message.find("row 2"), std::string::npos);
  EXPECT_EQ(scheduler_->kv().pool().num_used_blocks(), 0);
}

TEST_F(SpeculativeScheduler, DraftsStayWithinMaxTokens) {
  request_->params.max_tokens = 3;  // one output token so far: at most one draft
  const SchedulerOutput& out = scheduler_->schedule();
  EXPECT_EQ(out.seqs.at(0).num_draft_tokens, 1);
}

}  // namespace
}  // namespace tern
