// Engine: requests through the step loop with a fake model that keeps a paged KV cache and
// checks it on every step (fake_model.h). Equivalence, prefix caching, aborts, n > 1, the
// baseline modes, text and stop strings, failures, and many threads at once.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/grammar_vocabulary.h"
#include "engine/request_rejected.h"
#include "engine_support.h"
#include "grammar/regex.h"
#include "grammar_support.h"

namespace tern {
namespace {

using namespace tern::testing;  // engine_support.h: Result, make_engine, greedy, seeded, ...
using grammar::testing::matches;

TEST(Engine, ConcurrentRequestsUnderKvPressureEqualEachRequestAlone) {
  const std::vector<Job> jobs = mixed_jobs(64, 7);
  TestEngine t = make_engine(pressure_sizes());
  const std::vector<Result> together = run_together(t, jobs);
  const EngineStats stats = t.engine->stats();
  EXPECT_GT(stats.num_preemptions, 0) << "the KV budget is meant to force preemption";
  EXPECT_GT(stats.prefix_cache_hit_tokens, 0);
  EXPECT_EQ(stats.num_used_kv_blocks, 0);
  EXPECT_EQ(stats.num_requests, 0);
  for (size_t i = 0; i < jobs.size(); ++i) {
    ASSERT_TRUE(together[i].finished) << "request " << i;
    EXPECT_EQ(together[i], run_alone(pressure_sizes(), jobs[i])) << "request " << i;
  }
}

TEST(Engine, StaticAndContiguousBaselinesGiveTheSameOutputs) {
  const std::vector<Job> jobs = mixed_jobs(24, 11);
  TestEngine reference = make_engine(pressure_sizes());
  const std::vector<Result> expected = run_together(reference, jobs);
  for (SchedulerMode mode : {SchedulerMode::kContinuous, SchedulerMode::kStatic}) {
    for (KvLayout layout : {KvLayout::kPaged, KvLayout::kContiguous}) {
      EngineSizes sizes = pressure_sizes();
      sizes.num_kv_blocks = 256;
      TestEngine t = make_engine(sizes, EngineConfig{.scheduler = mode, .kv_layout = layout});
      EXPECT_EQ(run_together(t, jobs), expected)
          << "static " << (mode == SchedulerMode::kStatic) << ", contiguous " << (layout == KvLayout::kContiguous);
    }
  }
}

TEST(Engine, ASharedThreeBlockPrefixIsComputedOnce) {
  TestEngine t = make_engine({});
  std::mt19937 rng(3);
  const std::vector<int32_t> prefix = random_tokens(rng, 48);
  std::vector<int32_t> a = prefix, b = prefix;
  a.insert(a.end(), {1, 2, 3, 4, 5});
  b.insert(b.end(), {9, 8, 7, 6, 5, 4, 3});
  RequestHandle ha = t.engine->add_request(a, greedy(1));
  t.run();
  const size_t steps_before = t.executor->steps.size();
  RequestHandle hb = t.engine->add_request(b, greedy(1));
  t.run();

  int32_t computed = 0;
  for (size_t s = steps_before; s < t.executor->steps.size(); ++s) {
    for (const auto& r : t.executor->steps[s]) computed += r.num_new_tokens;
  }
  EXPECT_EQ(computed, 7) << "only the tokens after the cached prefix";
  EXPECT_EQ(take(ha).usage.cached_prompt_tokens, 0);
  const Result rb = take(hb);
  EXPECT_EQ(rb.usage.cached_prompt_tokens, 48);
  EXPECT_EQ(rb.usage.prompt_tokens, 55);
  EXPECT_EQ(t.engine->stats().prefix_cache_queried_tokens, 53 + 55);
  EXPECT_EQ(t.engine->stats().prefix_cache_hit_tokens, 48);
}

TEST(Engine, PrefixHitsAreCorrectForWholePromptsMidBlockPromptsAndOtherSamplingParams) {
  std::mt19937 rng(5);
  const std::vector<int32_t> prompt48 = random_tokens(rng, 48);
  const std::vector<int32_t> prompt40(prompt48.begin(), prompt48.begin() + 40);
  const std::vector<Job> later = {
      {prompt48, greedy(8)},         // whole prompt cached: the last block is recomputed
      {prompt40, greedy(8)},         // ends mid-block
      {prompt48, seeded(8, 77)},     // other sampling parameters
      {prompt40, seeded(8, 78, 2)},  // and n > 1
  };
  for (const Job& job : later) {
    TestEngine t = make_engine({});
    RequestHandle first = t.engine->add_request(prompt48, greedy(4));
    t.run();
    RequestHandle second = t.engine->add_request(job.prompt, job.params);
    t.run();
    const Result r = take(second);
    EXPECT_EQ(r.usage.cached_prompt_tokens, 32);
    EXPECT_EQ(r, run_alone({}, job));
  }
}

TEST(Engine, NCompletionsShareThePromptAndUseSeedPlusIndex) {
  TestEngine t = make_engine({});
  std::mt19937 rng(9);
  const std::vector<int32_t> prompt = random_tokens(rng, 40);
  SamplingParams p = seeded(6, 100, 3);
  p.ignore_eos = true;
  RequestHandle h = t.engine->add_request(prompt, p);
  t.run();
  const Result r = take(h);
  ASSERT_EQ(r.token_ids.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    SamplingParams single = seeded(6, 100 + i);
    single.ignore_eos = true;
    const Result alone = run_alone({}, {prompt, single});
    EXPECT_EQ(r.token_ids[i], alone.token_ids[0]) << "completion " << i;
    EXPECT_EQ(r.text[i], alone.text[0]);
  }
  EXPECT_NE(r.token_ids[0], r.token_ids[1]);
  int32_t computed = 0;
  for (const auto& step : t.executor->steps) {
    for (const auto& rec : step) computed += rec.num_new_tokens;
  }
  // The leader computes the prompt; the others only its last token, sharing the rest.
  EXPECT_EQ(computed, 40 + 2 * 1 + 3 * 5);
  EXPECT_EQ(r.usage.generated_tokens, 18);
  // Tokens 32..39 sit in a shared, partial third block that all three then write into:
  // two copy it, the last writes in place.
  EXPECT_EQ(t.executor->num_block_copies, 2);
  EXPECT_EQ(t.engine->stats().num_kv_block_copies, 2);
}

TEST(Engine, AbortEndsTheRequestAndFreesItsBlocksAtOnce) {
  TestEngine t = make_engine({});
  SamplingParams p = greedy(1000);
  p.ignore_eos = true;
  RequestHandle running = t.engine->add_request(std::vector<int32_t>(100, 7), p);
  for (int i = 0; i < 5; ++i) t.engine->step();
  EXPECT_GT(t.engine->stats().num_used_kv_blocks, 0);
  RequestHandle queued = t.engine->add_request(std::vector<int32_t>(10, 7), p);
  t.engine->abort(running.request_id());
  t.engine->abort(queued.request_id());
  t.engine->abort(12345);  // unknown: ignored
  EXPECT_FALSE(t.engine->step());
  EXPECT_EQ(t.engine->stats().num_used_kv_blocks, 0);
  const Result r = take(running);
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.finish[0], FinishReason::kAbort);
  EXPECT_EQ(r.token_ids[0].size(), 5u);
  const Result q = take(queued);
  EXPECT_TRUE(q.finished);
  EXPECT_EQ(q.finish[0], FinishReason::kAbort);
  EXPECT_TRUE(q.token_ids[0].empty());
}

// A model that "says" a fixed byte string, one byte per token, then the eos id.
FakeExecutor::NextToken says(std::string text) {
  return [text](const StepSequence& seq, std::span<const int32_t>) {
    const size_t i = seq.output_token_ids.size();
    return i < text.size() ? static_cast<int32_t>(static_cast<unsigned char>(text[i])) : FakeTokenizer::kEosId;
  };
}

Result say(const std::string& text, SamplingParams p) {
  TestEngine t = make_engine({}, {}, says(text));
  RequestHandle h = t.engine->add_request({1, 2, 3}, std::move(p));
  t.run();
  return take(h);
}

SamplingParams stopping_at(std::vector<std::string> stop, int32_t min_tokens = 0) {
  SamplingParams p = greedy(64);
  p.stop = std::move(stop);
  p.min_tokens = min_tokens;
  return p;
}

TEST(EngineText, EosEndsTheTextWithoutItsOwnText) {
  SamplingParams p = greedy(64);
  p.skip_special_tokens = false;
  const Result r = say("Hi", p);
  EXPECT_EQ(r.text[0], "Hi");
  EXPECT_EQ(r.finish[0], FinishReason::kStop);
  EXPECT_EQ(r.token_ids[0], (std::vector<int32_t>{'H', 'i', FakeTokenizer::kEosId}));
  p.ignore_eos = true;
  p.max_tokens = 3;
  const Result ignored = say("Hi", p);
  EXPECT_EQ(ignored.text[0], "Hi<|eos|>");
  EXPECT_EQ(ignored.finish[0], FinishReason::kLength);
}

TEST(EngineText, AStopStringAndWhatFollowsAreNeverEmitted) {
  const Result r = say("Hello, world! More", stopping_at({"world"}));
  EXPECT_EQ(r.text[0], "Hello, ");
  EXPECT_EQ(r.finish[0], FinishReason::kStop);
  EXPECT_EQ(r.token_ids[0].size(), 12u) << "the tokens up to the end of the match";
  for (const std::string& delta : r.deltas) EXPECT_EQ(delta.find('w'), std::string::npos) << delta;
}

TEST(EngineText, APossibleStopStringIsHeldBackUntilDecided) {
  const Result r = say("a wo wx", stopping_at({"wxyz", "zz"}));
  EXPECT_EQ(r.text[0], "a wo wx");
  EXPECT_EQ(r.finish[0], FinishReason::kStop) << "by eos";
  // Deltas per token: "a", " ", "" (w held), "wo", " ", "" (w), "" (wx), then the flush.
  EXPECT_EQ(r.deltas, (std::vector<std::string>{"a", " ", "", "wo", " ", "", "", "wx"}));
}

TEST(EngineText, TheEarliestOfSeveralStopStringsWins) {
  EXPECT_EQ(say("one two three", stopping_at({"three", "two"})).text[0], "one ");
}

TEST(EngineText, StopStringsAreIgnoredBeforeMinTokens) {
  const Result r = say("Hello", stopping_at({"l"}, /*min_tokens=*/3));
  EXPECT_EQ(r.text[0], "Hel");
  EXPECT_EQ(r.token_ids[0].size(), 4u);
}

TEST(EngineText, AStopStringOnTheLastAllowedTokenStillCountsAsStop) {
  SamplingParams p = stopping_at({"lo"});
  p.max_tokens = 5;
  const Result r = say("Hello", p);
  EXPECT_EQ(r.text[0], "Hel");
  EXPECT_EQ(r.finish[0], FinishReason::kStop);
}

TEST(EngineText, AMultiByteCharacterSplitAcrossTokensIsEmittedWhole) {
  const Result r = say("h\xC3\xA9!", greedy(64));
  EXPECT_EQ(r.text[0], "h\xC3\xA9!");
  EXPECT_EQ(r.deltas, (std::vector<std::string>{"h", "", "\xC3\xA9", "!", ""}));
  const Result cut = say("h\xC3", greedy(2));
  EXPECT_EQ(cut.text[0], "h\xEF\xBF\xBD") << "an unfinished character ends as U+FFFD";
}

TEST(Engine, LogprobsUsageAndTimesArrive) {
  TestEngine t = make_engine({});
  SamplingParams p = seeded(4, 1);
  p.ignore_eos = true;
  p.logprobs = 2;
  RequestHandle h = t.engine->add_request(std::vector<int32_t>(20, 3), p);
  t.run();
  int32_t num_logprobs = 0;
  while (auto out = h.try_next()) {
    ASSERT_EQ(out->logprobs.size(), out->token_ids.size());
    for (const TokenLogprob& lp : out->logprobs) {
      EXPECT_FLOAT_EQ(lp.logprob, -0.25f);
      EXPECT_EQ(lp.top_logprobs.size(), 2u);
      ++num_logprobs;
    }
    if (out->finished) {
      EXPECT_EQ(out->usage.prompt_tokens, 20);
      EXPECT_EQ(out->usage.generated_tokens, 4);
      EXPECT_LE(out->times.arrival, out->times.first_scheduled);
      EXPECT_LE(out->times.first_scheduled, out->times.first_token);
      EXPECT_LE(out->times.first_token, out->times.finished);
    }
  }
  EXPECT_EQ(num_logprobs, 4);
}

TEST(Engine, AnUnsetSeedIsDrawnPerRequest) {
  TestEngine t = make_engine({});
  SamplingParams p;
  p.max_tokens = 16;
  p.ignore_eos = true;
  RequestHandle a = t.engine->add_request({5, 6, 7}, p);
  RequestHandle b = t.engine->add_request({5, 6, 7}, p);
  t.run();
  EXPECT_NE(take(a).token_ids, take(b).token_ids);
}

TEST(Engine, NumericalErrorFailsOnlyThatRequestAndCachesNothing) {
  std::mt19937 rng(13);
  const std::vector<int32_t> bad = random_tokens(rng, 64);
  const std::vector<Job> others = {{random_tokens(rng, 30), greedy(10)}, {random_tokens(rng, 50), seeded(10, 3)}};
  TestEngine t = make_engine({.max_num_batched_tokens = 32});
  t.executor->nan_when = [&](const StepSequence& seq) { return seq.prompt_token_ids[0] == bad[0]; };
  RequestHandle hb = t.engine->add_request(bad, greedy(10));
  std::vector<RequestHandle> ho;
  for (const Job& job : others) ho.push_back(t.engine->add_request(job.prompt, job.params));
  t.run();
  const Result rb = take(hb);
  EXPECT_EQ(rb.finish[0], FinishReason::kError);
  EXPECT_NE(rb.error.find("numerical"), std::string::npos) << rb.error;
  EXPECT_TRUE(rb.token_ids[0].empty()) << "no token comes from NaN logits";
  for (size_t i = 0; i < others.size(); ++i) EXPECT_EQ(take(ho[i]), run_alone({}, others[i]));
  EXPECT_EQ(t.engine->stats().num_numerical_errors, 1);

  t.executor->nan_when = nullptr;
  RequestHandle again = t.engine->add_request(bad, greedy(1));
  t.run();
  EXPECT_EQ(take(again).usage.cached_prompt_tokens, 0) << "the failed prompt never entered the cache";
}

TEST(Engine, RejectsWhatCanNeverRunAndWhenTheQueueIsFull) {
  TestEngine t = make_engine({.num_kv_blocks = 8, .max_model_len = 200}, {.max_waiting = 2});
  const auto reason = [&](std::vector<int32_t> prompt, int32_t max_tokens) -> std::optional<RejectReason> {
    try {
      t.engine->add_request(std::move(prompt), greedy(max_tokens));
    } catch (const RequestRejected& e) {
      return e.reason();
    }
    return std::nullopt;
  };
  EXPECT_EQ(reason(std::vector<int32_t>(190, 1), 20), RejectReason::kContextLength);
  EXPECT_EQ(reason(std::vector<int32_t>(120, 1), 20), RejectReason::kKvCapacity);
  EXPECT_EQ(reason({}, 20), RejectReason::kInvalid);
  EXPECT_EQ(reason({1}, 4), std::nullopt);
  EXPECT_EQ(reason({1}, 4), std::nullopt);
  EXPECT_EQ(reason({1}, 4), RejectReason::kBusy);
  t.engine->step();  // both start
  EXPECT_EQ(reason({1}, 4), std::nullopt);
  const EngineStats stats = t.engine->stats();
  EXPECT_EQ(stats.num_rejected[static_cast<size_t>(RejectReason::kBusy)], 1);
  EXPECT_EQ(stats.num_rejected[static_cast<size_t>(RejectReason::kContextLength)], 1);
  t.run();
}

TEST(Engine, AFailedModelStepFailsEveryRequestAndTheEngine) {
  TestEngine t = make_engine({});
  t.executor->throw_on_step = 2;
  RequestHandle a = t.engine->add_request({1, 2, 3}, greedy(10));
  RequestHandle b = t.engine->add_request({4, 5, 6}, seeded(10, 1, 2));
  t.run();
  for (RequestHandle* h : {&a, &b}) {
    const Result r = take(*h);
    EXPECT_TRUE(r.finished);
    for (const auto& f : r.finish) EXPECT_EQ(f, FinishReason::kError);
    EXPECT_FALSE(r.error.empty());
  }
  EXPECT_FALSE(t.engine->stats().healthy);
  EXPECT_EQ(t.engine->stats().num_used_kv_blocks, 0);
  EXPECT_THROW(t.engine->add_request({1}, greedy(1)), RequestRejected);
}

TEST(Engine, RunsWithTheExecutorsSizes) {
  TestEngine t = make_engine({.block_size = 8, .num_kv_blocks = 64, .max_model_len = 100, .max_num_seqs = 3});
  EXPECT_EQ(t.engine->sizes().block_size, 8);
  EXPECT_EQ(t.engine->stats().num_kv_blocks, 64);
  EXPECT_EQ(t.engine->sizes().max_model_len, 100);
  EXPECT_THROW(t.engine->add_request({1}, seeded(4, 1, 4)), RequestRejected) << "n = 4 > max_num_seqs = 3";
  EXPECT_THROW(make_engine({}, {.max_waiting = 0}), Error);
}

TEST(Engine, StatsKeepThePeakOfRunningSequencesAndHeldBlocks) {
  TestEngine t = make_engine({});
  std::mt19937 rng(5);
  SamplingParams params = greedy(8);
  params.ignore_eos = true;
  std::vector<RequestHandle> handles;
  for (int i = 0; i < 5; ++i) handles.push_back(t.engine->add_request(random_tokens(rng, 40), params));
  t.run();
  const EngineStats stats = t.engine->stats();
  EXPECT_EQ(stats.max_running_seqs, 5);
  EXPECT_EQ(stats.max_used_kv_blocks, 5 * 3) << "40 prompt + 7 computed output tokens: 3 blocks of 16 each";
  EXPECT_EQ(stats.num_running_seqs, 0);
  EXPECT_EQ(stats.num_used_kv_blocks, 0);
}

TEST(EngineThread, ManyThreadsAddStreamAndAbortAtOnce) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 12;
  std::vector<Job> jobs = mixed_jobs(kThreads * kPerThread, 21);
  for (Job& job : jobs) job.params.max_tokens = std::min(job.params.max_tokens, 24);
  TestEngine reference = make_engine(pressure_sizes());
  const std::vector<Result> expected = run_together(reference, jobs);

  TestEngine t = make_engine(pressure_sizes());
  t.engine->start();
  std::atomic<int> mismatches{0}, unfinished{0}, aborted{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (int k = 0; k < kPerThread; ++k) {
        const size_t i = static_cast<size_t>(th * kPerThread + k);
        RequestHandle h = t.engine->add_request(jobs[i].prompt, jobs[i].params, jobs[i].priority);
        Result r;
        const bool abort_it = k % 4 == 3;
        while (auto out = h.next()) {
          absorb(r, *out);
          if (abort_it) t.engine->abort(h.request_id());
        }
        if (!r.finished) ++unfinished;
        if (abort_it) {
          aborted += r.finish[0] == FinishReason::kAbort ? 1 : 0;
        } else if (!(r == expected[i])) {
          ++mismatches;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(unfinished, 0);
  EXPECT_EQ(mismatches, 0);
  EXPECT_GT(aborted, 0);
  t.engine->stop();
  const EngineStats stats = t.engine->stats();
  EXPECT_EQ(stats.num_requests, 0);
  EXPECT_EQ(stats.num_used_kv_blocks, 0);
  EXPECT_EQ(stats.num_running_seqs + stats.num_waiting_seqs, 0);
}

TEST(EngineThread, StopAbortsWhatIsInFlight) {
  TestEngine t = make_engine({}, {}, [](const StepSequence&, std::span<const int32_t>) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return 1;
  });
  t.engine->start();
  SamplingParams p = greedy(100000 / 64);
  p.ignore_eos = true;
  RequestHandle h = t.engine->add_request({1, 2, 3}, p);
  ASSERT_TRUE(h.next().has_value());
  t.engine->stop();
  Result r;
  while (auto out = h.next()) absorb(r, *out);
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.finish[0], FinishReason::kAbort);
}

// Structured output: the fake model's next token is a hash; the step's token masks make
// it the next allowed token instead, as a real model's masked logits would
// (fake_grammar in engine_support.h).

TEST(EngineStructuredOutput, EveryCompletionMatchesItsGrammarAndStopsWhenItIsComplete) {
  TestEngine t = make_engine({});
  SamplingParams p = seeded(64, 5, /*n=*/4);
  p.grammar = fake_grammar("[a-c]{3,6}x(w2[0-9][0-9] )?");
  std::vector<RequestHandle> handles;
  for (int i = 0; i < 8; ++i) {
    p.seed = uint64_t(100 + i);
    handles.push_back(t.engine->add_request({1, 2, 3, uint8_t(i)}, p));
  }
  t.run();
  int ended_by_eos = 0;
  for (RequestHandle& h : handles) {
    const Result r = take(h);
    ASSERT_EQ(r.text.size(), 4u) << r;
    for (size_t i = 0; i < 4; ++i) {
      EXPECT_TRUE(matches(grammar::regex_grammar("[a-c]{3,6}x(w2[0-9][0-9] )?"), r.text[i])) << r;
      EXPECT_EQ(r.finish[i], FinishReason::kStop) << r;
      ended_by_eos += r.token_ids[i].back() == FakeTokenizer::kEosId;
    }
  }
  // Where the grammar may end or go on, eos is allowed; where it must end, the output
  // stops without one.
  EXPECT_GT(ended_by_eos, 0);
  EXPECT_LT(ended_by_eos, 32);
}

TEST(EngineStructuredOutput, MaxTokensFirstEndsWithLengthAndAPrefixOfAMatch) {
  TestEngine t = make_engine({});
  SamplingParams p = greedy(3);
  p.grammar = fake_grammar("abcdef");
  RequestHandle h = t.engine->add_request({7}, p);
  t.run();
  const Result r = take(h);
  EXPECT_EQ(r.text[0], "abc");
  EXPECT_EQ(r.finish[0], FinishReason::kLength);
}

TEST(EngineStructuredOutput, ConstrainedRequestsUnderKvPressureEqualEachRequestAlone) {
  std::vector<Job> jobs = mixed_jobs(32, 17);
  for (size_t i = 0; i < jobs.size(); i += 2) jobs[i].params.grammar = fake_grammar("(w3[0-9][0-9] |[0-9]+,)+");
  TestEngine t = make_engine(pressure_sizes());
  const std::vector<Result> together = run_together(t, jobs);
  EXPECT_GT(t.engine->stats().num_preemptions, 0);
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(together[i], run_alone(pressure_sizes(), jobs[i])) << "request " << i;
    if (jobs[i].params.grammar) {
      for (const std::string& text : together[i].text)
        EXPECT_TRUE(grammar::testing::is_prefix(grammar::regex_grammar("(w3[0-9][0-9] |[0-9]+,)+"), text))
            << together[i];
    }
  }
}

TEST(EngineStructuredOutput, EosBeforeMinTokensStaysBannedWhereTheGrammarMayGoOn) {
  TestEngine t = make_engine({});
  SamplingParams p = seeded(40, 9);
  p.min_tokens = 12;
  p.grammar = fake_grammar("[ab]+");
  RequestHandle h = t.engine->add_request({1}, p);
  t.run();
  const Result r = take(h);
  EXPECT_GE(r.token_ids[0].size(), 12u) << r;
  EXPECT_TRUE(matches(grammar::regex_grammar("[ab]+"), r.text[0])) << r;
}

}  // namespace
}  // namespace tern
