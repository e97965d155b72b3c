// The sampler: greedy is argmax, seeded draws are reproducible and independent of what
// else is sampled, each filter keeps exactly the tokens it should, penalties follow their
// HF / OpenAI definitions, and NaN logits are reported instead of sampled.
#include "runner/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "backend/logit_adjustment.h"

namespace tern {
namespace {

SampledToken sample(const std::vector<float>& logits, const SamplingParams& p, uint64_t seed = 1,
                    std::vector<int32_t> output = {}, std::vector<int32_t> prompt = {},
                    std::vector<int32_t> banned = {}) {
  static SamplerScratch scratch;
  StepSequence seq{.seq_id = 7,
                   .sample = true,
                   .params = &p,
                   .seed = seed,
                   .prompt_token_ids = prompt,
                   .output_token_ids = output,
                   .banned_token_ids = banned};
  return sample_token(logits, seq, scratch);
}

TEST(Sampler, GreedyIsArgmaxAndTakesTheLowestIdOnTies) {
  SamplingParams greedy{.temperature = 0.0f};
  EXPECT_EQ(sample({0.1f, 3.0f, -1.0f, 2.0f}, greedy).token_id, 1);
  EXPECT_EQ(sample({1.0f, 5.0f, 5.0f}, greedy).token_id, 1);
}

TEST(Sampler, LogprobIsTheLogSoftmaxOfTheChosenToken) {
  SamplingParams greedy{.temperature = 0.0f, .logprobs = 2};
  SampledToken t = sample({1.0f, 2.0f, 3.0f}, greedy);
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  EXPECT_NEAR(t.logprob, 3.0 - lse, 1e-6);
  ASSERT_EQ(t.top_logprobs.size(), 2u);
  EXPECT_EQ(t.top_logprobs[0].first, 2);
  EXPECT_EQ(t.top_logprobs[1].first, 1);
  EXPECT_NEAR(t.top_logprobs[1].second, 2.0 - lse, 1e-6);
}

TEST(Sampler, SameSeedAndIndexGiveTheSameDrawAndOtherSeedsDiffer) {
  SamplingParams p{.temperature = 1.0f};
  std::vector<float> flat(1000, 0.0f);
  std::set<int32_t> seen;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    int32_t a = sample(flat, p, seed).token_id;
    EXPECT_EQ(a, sample(flat, p, seed).token_id);
    seen.insert(a);
  }
  EXPECT_GT(seen.size(), 10u);
  // The draw index is the output length: a different position draws differently.
  EXPECT_NE(uniform_draw(5, 0), uniform_draw(5, 1));
}

TEST(Sampler, DrawsFollowTheSoftmaxDistribution) {
  SamplingParams p{.temperature = 1.0f};
  std::vector<float> logits = {0.0f, std::log(3.0f)};  // probabilities 1/4, 3/4
  int ones = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) ones += sample(logits, p, uint64_t(i)).token_id;
  EXPECT_NEAR(double(ones) / n, 0.75, 0.03);
}

TEST(Sampler, TopKKeepsOnlyTheKMostLikelyTokens) {
  SamplingParams p{.temperature = 1.0f, .top_k = 2};
  std::vector<float> logits = {5.0f, 4.9f, 4.8f, 4.7f};
  for (uint64_t s = 0; s < 200; ++s) EXPECT_LT(sample(logits, p, s).token_id, 2);
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  // probabilities 0.5, 0.3, 0.2: top_p 0.7 keeps the first two (0.5 < 0.7 <= 0.8).
  SamplingParams p{.temperature = 1.0f, .top_p = 0.7f};
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  std::set<int32_t> seen;
  for (uint64_t s = 0; s < 300; ++s) seen.insert(sample(logits, p, s).token_id);
  EXPECT_EQ(seen, (std::set<int32_t>{0, 1}));
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheTopProbability) {
  // probabilities 0.6, 0.3, 0.1: min_p 0.4 keeps tokens with p >= 0.24.
  SamplingParams p{.temperature = 1.0f, .min_p = 0.4f};
  std::vector<float> logits = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
  std::set<int32_t> seen;
  for (uint64_t s = 0; s < 300; ++s) seen.insert(sample(logits, p, s).token_id);
  EXPECT_EQ(seen, (std::set<int32_t>{0, 1}));
}

TEST(Sampler, LowTemperatureConcentratesOnTheTopToken) {
  SamplingParams p{.temperature = 0.05f};
  std::vector<float> logits = {1.0f, 1.5f, 0.5f};
  for (uint64_t s = 0; s < 100; ++s) EXPECT_EQ(sample(logits, p, s).token_id, 1);
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  SamplingParams p{.temperature = 0.0f, .repetition_penalty = 2.0f, .logprobs = 3};
  // Token 0 (logit 3) was in the prompt -> 1.5; token 2 (-1) in the output -> -2.
  SampledToken t = sample({3.0f, 2.0f, -1.0f}, p, 1, {2}, {0});
  EXPECT_EQ(t.token_id, 1);
  std::map<int32_t, float> lp(t.top_logprobs.begin(), t.top_logprobs.end());
  EXPECT_NEAR(lp[0] - lp[1], 1.5 - 2.0, 1e-5);
  EXPECT_NEAR(lp[2] - lp[1], -2.0 - 2.0, 1e-5);
}

TEST(Sampler, PresenceAndFrequencyPenaltiesCountOutputTokens) {
  SamplingParams p{.temperature = 0.0f, .presence_penalty = 0.5f, .frequency_penalty = 0.25f, .logprobs = 2};
  // Token 0 appeared twice in the output: 3 - (2 * 0.25 + 0.5) = 2 < 2.5.
  SampledToken t = sample({3.0f, 2.5f}, p, 1, {0, 0});
  EXPECT_EQ(t.token_id, 1);
  EXPECT_NEAR(t.top_logprobs[1].second - t.top_logprobs[0].second, 2.0 - 2.5, 1e-5);
}

TEST(Sampler, BannedTokensAreNeverChosen) {
  SamplingParams p{.temperature = 0.0f};
  EXPECT_EQ(sample({9.0f, 1.0f, 2.0f}, p, 1, {}, {}, {0}).token_id, 2);
}

TEST(Sampler, NanOrInfLogitsAreANumericalErrorNotAToken) {
  SamplingParams p{.temperature = 1.0f};
  SampledToken t = sample({1.0f, std::numeric_limits<float>::quiet_NaN()}, p);
  EXPECT_TRUE(t.numerical_error);
  EXPECT_EQ(t.token_id, -1);
  EXPECT_EQ(t.error, "1 NaN, 0 +inf, 0 -inf of 2 logits; first at token 1: nan") << "what the log says";
  EXPECT_TRUE(sample({1.0f, std::numeric_limits<float>::infinity()}, p).numerical_error);
  EXPECT_TRUE(sample({1.0f, -std::numeric_limits<float>::infinity()}, p).numerical_error);
}

// Structured output: the token mask leaves -inf at the tokens the grammar forbids.
TEST(Sampler, MaskedTokensAreNeverSampledNorListed) {
  constexpr float kMasked = -std::numeric_limits<float>::infinity();
  const std::vector<float> logits = {5.0f, kMasked, 1.0f, kMasked, 0.5f};
  SamplerScratch scratch;
  for (SamplingParams p : {SamplingParams{.temperature = 0.0f, .logprobs = 4},
                           SamplingParams{.temperature = 1.5f, .top_k = 4, .logprobs = 4},
                           SamplingParams{.temperature = 2.0f, .top_p = 1.0f, .repetition_penalty = 1.3f}}) {
    for (uint64_t seed = 0; seed < 200; ++seed) {
      StepSequence seq{.seq_id = 1, .sample = true, .params = &p, .seed = seed, .mask_row = 0};
      const SampledToken t = sample_token(logits, seq, scratch);
      ASSERT_FALSE(t.numerical_error);
      EXPECT_TRUE(t.token_id == 0 || t.token_id == 2 || t.token_id == 4) << t.token_id;
      for (const auto& [id, logprob] : t.top_logprobs) EXPECT_TRUE(std::isfinite(logprob)) << id;
      if (p.logprobs == 4) EXPECT_EQ(t.top_logprobs.size(), 3u);
    }
  }
  SamplingParams p{.temperature = 1.0f};
  StepSequence seq{.seq_id = 1, .sample = true, .params = &p, .mask_row = 0};
  EXPECT_TRUE(sample_token(std::vector<float>{kMasked, kMasked}, seq, scratch).numerical_error)
      << "a mask that allows nothing";
  EXPECT_TRUE(
      sample_token(std::vector<float>{1.0f, std::numeric_limits<float>::quiet_NaN()}, seq, scratch).numerical_error);
}

}  // namespace
}  // namespace tern

namespace tern {
namespace {

// What a backend's top-k op returns for a row: sorted ids and logits, and the normaliser.
struct Top {
  std::vector<int32_t> ids;
  std::vector<float> logits;
  float lse;
};
Top top_of(const std::vector<float>& logits, size_t k) {
  std::vector<int32_t> ids(logits.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t(i);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  ids.resize(k);
  Top t{ids, {}, 0};
  double sum = 0, mx = *std::max_element(logits.begin(), logits.end());
  for (float v : logits) sum += std::exp(double(v) - mx);
  t.lse = float(mx + std::log(sum));
  for (int32_t id : ids) t.logits.push_back(logits[size_t(id)]);
  return t;
}

TEST(SamplerTopCandidates, GivesTheSameTokensAndLogprobsAsTheFullRow) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(5000);
  for (float& v : logits) v = normal(rng);
  SamplerScratch scratch;
  for (SamplingParams p : {SamplingParams{.temperature = 0.0f, .logprobs = 5},
                           SamplingParams{.temperature = 0.8f, .top_k = 20, .logprobs = 3},
                           SamplingParams{.temperature = 1.2f, .top_p = 0.9f, .top_k = 40, .min_p = 0.05f}}) {
    Top top = top_of(logits, 64);
    for (uint64_t seed = 0; seed < 30; ++seed) {
      StepSequence seq{.seq_id = 1, .sample = true, .params = &p, .seed = seed};
      ASSERT_TRUE(samples_from_top(seq, 64));
      SampledToken full = sample_token(logits, seq, scratch);
      SampledToken fast = sample_from_top({top.ids, top.logits, top.lse}, seq);
      EXPECT_EQ(fast.token_id, full.token_id);
      EXPECT_NEAR(fast.logprob, full.logprob, 1e-4);
      ASSERT_EQ(fast.top_logprobs.size(), full.top_logprobs.size());
      for (size_t i = 0; i < fast.top_logprobs.size(); ++i)
        EXPECT_EQ(fast.top_logprobs[i].first, full.top_logprobs[i].first);
    }
  }
}

TEST(SamplerTopCandidates, SkipMaskedCandidatesLikeTheFullRow) {
  constexpr float kMasked = -std::numeric_limits<float>::infinity();
  std::vector<float> logits(200, kMasked);
  logits[7] = 1.0f, logits[50] = 2.5f, logits[199] = 0.25f;  // three tokens allowed, 64 candidates
  const Top top = top_of(logits, 64);
  SamplerScratch scratch;
  SamplingParams p{.temperature = 1.0f, .top_k = 64, .logprobs = 5};
  for (uint64_t seed = 0; seed < 50; ++seed) {
    StepSequence seq{.seq_id = 1, .sample = true, .params = &p, .seed = seed, .mask_row = 0};
    const SampledToken fast = sample_from_top({top.ids, top.logits, top.lse}, seq);
    const SampledToken full = sample_token(logits, seq, scratch);
    ASSERT_FALSE(fast.numerical_error);
    EXPECT_EQ(fast.token_id, full.token_id);
    EXPECT_EQ(fast.top_logprobs.size(), 3u);
  }
}

// With no top-k the host draws from the whole row without sorting it (bench/sampler_bench);
// the sorted draw over every token (top_k = vocabulary) must pick the same tokens, through
// top-p, min-p, ties (which go by id), masked tokens, and rows flat or peaked.
TEST(SamplerFullRow, DrawsTheSameTokensAsTheSortedVocabulary) {
  constexpr float kMasked = -std::numeric_limits<float>::infinity();
  std::mt19937 rng(11);
  SamplerScratch scratch;
  for (int row = 0; row < 12; ++row) {
    std::vector<float> logits(3000 + 997 * row);
    std::normal_distribution<float> normal(0.0f, row % 3 == 0 ? 0.01f : 2.0f);
    for (float& v : logits) v = normal(rng);
    if (row % 4 == 1)  // ties: a few hundred tokens share a handful of values
      for (size_t i = 0; i < logits.size(); i += 7) logits[i] = float(i % 5);
    const bool masked = row % 2 == 0;
    if (masked)
      for (size_t i = 0; i < logits.size(); ++i)
        if (i % 3 != 0) logits[i] = kMasked;
    const int32_t vocab = int32_t(logits.size());
    const Top all = top_of(logits, logits.size());
    for (SamplingParams p : {SamplingParams{.temperature = 1.0f}, SamplingParams{.temperature = 0.7f, .top_p = 0.8f},
                             SamplingParams{.temperature = 1.3f, .min_p = 0.02f},
                             SamplingParams{.temperature = 0.6f, .top_p = 0.95f, .min_p = 0.1f}}) {
      SamplingParams sorted = p;
      sorted.top_k = vocab;
      for (uint64_t seed = 0; seed < 25; ++seed) {
        StepSequence seq{.seq_id = 1, .sample = true, .params = &p, .seed = seed, .mask_row = masked ? 0 : -1};
        StepSequence by_sort = seq;
        by_sort.params = &sorted;
        const SampledToken full = sample_token(logits, seq, scratch);
        ASSERT_FALSE(full.numerical_error);
        ASSERT_NE(logits[size_t(full.token_id)], kMasked);
        EXPECT_EQ(full.token_id, sample_from_top({all.ids, all.logits, all.lse}, by_sort).token_id)
            << "row " << row << " seed " << seed << " temperature " << p.temperature << " top_p " << p.top_p
            << " min_p " << p.min_p;
      }
    }
  }
}

TEST(SamplerTopCandidates, AreNotEnoughForUnboundedTopKOrManyLogprobs) {
  SamplingParams unbounded{.temperature = 1.0f};
  SamplingParams many{.temperature = 0.0f, .logprobs = 100};
  for (const SamplingParams* p : {&unbounded, &many}) {
    StepSequence seq{.seq_id = 1, .sample = true, .params = p};
    EXPECT_FALSE(samples_from_top(seq, 64));
  }
  SamplingParams penalised{.temperature = 0.7f, .top_k = 20, .repetition_penalty = 1.05f, .logit_bias = {{3, 2.0f}}};
  StepSequence seq{.seq_id = 1, .sample = true, .params = &penalised};
  EXPECT_TRUE(samples_from_top(seq, 64)) << "penalties are applied to the row before its top-k";
}

// The runner applies a sequence's adjustments where the logits are (Backend::adjust_logits)
// and samples from the adjusted row or its top-k: the same tokens and logprobs as the host
// reference, which adjusts the raw row itself.
TEST(SamplerAdjustedRows, GiveTheSameTokensAsAdjustingOnTheHost) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(4000);
  for (float& v : logits) v = normal(rng);
  const std::vector<int32_t> prompt = {5, 9, 9, 1200, 3999}, output = {9, 42, 42, 42, 7, 3999};
  const std::vector<int32_t> banned = {0, 42};
  SamplerScratch scratch;
  for (SamplingParams p : {SamplingParams{.temperature = 0.0f, .repetition_penalty = 1.3f, .logprobs = 3},
                           SamplingParams{.temperature = 0.7f, .top_p = 0.8f, .top_k = 20, .repetition_penalty = 1.05f},
                           SamplingParams{.temperature = 1.0f,
                           .top_k = 40,
                           .presence_penalty = 0.5f,
                           .frequency_penalty = 0.7f,
                           .logit_bias = {{7, 5.0f}, {100, -100.0f}}}}) {
    for (uint64_t seed = 0; seed < 20; ++seed) {
      StepSequence seq{.seq_id = 1,
                       .sample = true,
                       .params = &p,
                       .seed = seed,
                       .prompt_token_ids = prompt,
                       .output_token_ids = output,
                       .banned_token_ids = banned};
      LogitAdjuster adjuster;
      std::vector<LogitAdjustment> adjustments;
      adjuster.collect(seq, int32_t(logits.size()), adjustments);
      std::vector<float> adjusted = logits;
      for (const LogitAdjustment& a : adjustments)
        adjusted[size_t(a.token)] = adjust_logit(adjusted[size_t(a.token)], a.bias, a.repetition, a.subtract);
      const SampledToken host = sample_token(logits, seq, scratch);
      const SampledToken row = sample_adjusted_row(adjusted, seq, scratch);
      const Top top = top_of(adjusted, 64);
      const SampledToken fast = sample_from_top({top.ids, top.logits, top.lse}, seq);
      ASSERT_FALSE(host.numerical_error);
      EXPECT_EQ(row.token_id, host.token_id);
      EXPECT_EQ(row.logprob, host.logprob);
      EXPECT_EQ(fast.token_id, host.token_id);
      EXPECT_NEAR(fast.logprob, host.logprob, 1e-4);
      EXPECT_NE(host.token_id, 0) << "banned";
      EXPECT_NE(host.token_id, 42) << "banned";
    }
  }
}

TEST(LogitAdjuster, OneEntryPerTokenWithEachPenaltyAsDefined) {
  SamplingParams p{.repetition_penalty = 1.2f,
                   .presence_penalty = 0.5f,
                   .frequency_penalty = 0.25f,
                   .logit_bias = {{4, 1.5f}, {900, 3.0f}}};
  const std::vector<int32_t> prompt = {1, 2, 2}, output = {2, 3, 3, 3, -1}, banned = {4};
  StepSequence seq{.seq_id = 1,
                   .sample = true,
                   .params = &p,
                   .prompt_token_ids = prompt,
                   .output_token_ids = output,
                   .banned_token_ids = banned};
  LogitAdjuster adjuster;
  std::vector<LogitAdjustment> out;
  adjuster.collect(seq, 100, out);  // 900 and -1 lie outside the vocabulary
  std::map<int32_t, LogitAdjustment> by_token;
  for (const LogitAdjustment& a : out) EXPECT_TRUE(by_token.emplace(a.token, a).second) << "token " << a.token;
  ASSERT_EQ(by_token.size(), 4u);
  EXPECT_EQ(by_token[1].repetition, 1.2f);
  EXPECT_EQ(by_token[1].subtract, 0.0f) << "prompt tokens get no presence or frequency penalty";
  EXPECT_EQ(by_token[2].subtract, 1 * 0.25f + 0.5f);
  EXPECT_EQ(by_token[3].subtract, 3 * 0.25f + 0.5f);
  EXPECT_EQ(by_token[3].repetition, 1.2f);
  EXPECT_EQ(by_token[4].bias, -std::numeric_limits<float>::infinity()) << "a ban outweighs logit_bias";
  // Collecting again gives the same list: the scratch was left clean.
  std::vector<LogitAdjustment> again;
  adjuster.collect(seq, 100, again);
  EXPECT_EQ(again.size(), out.size());
  EXPECT_EQ(adjust_logit(2.4f, 0.0f, 1.2f, 0.0f), 2.0f);
  EXPECT_EQ(adjust_logit(-2.0f, 0.0f, 1.5f, 0.5f), -3.5f);
}

}  // namespace
}  // namespace tern
