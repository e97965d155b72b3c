// Speculative sampling on a real model follows the target's distribution. tiny-qwen2
// drafts for itself (--speculative-method draft with the same model: its greedy draft is
// accepted exactly when the target's sample equals it) at temperature 0.25, over many
// seeds.
// The third output token is sampled in the second row of a verify step whenever the
// second token took the draft; among those runs, the third token's frequencies must match
// the model's own probabilities after that context (computed separately, in one forward
// over the whole sequence): a chi-square test over the likeliest tokens (up to 8, each
// expected at least 5 times) and the rest, with a 1e-4 false-failure rate; 12,000 seeds,
// 2,000 in sanitizer builds. (That greedy and seeded outputs equal plain decoding's is
// tested in cli_demo_test.cpp and engine_speculative_test.cpp; this checks the same
// promise as a statement about distributions.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "base/rank_threads.h"
#include "engine/engine.h"
#include "forward_support.h"
#include "model/load_model.h"
#include "runner/model_runner.h"
#include "test_support.h"

namespace tern {
namespace {

const std::string kModel = std::string(TERN_TEST_DATA) + "/models/tiny-qwen2";

TEST(SpeculativeSampling, TokensFromVerifyRowsFollowTheTargetDistribution) {
  // Fewer in sanitizer builds, whose engine steps are tens of times slower.
  constexpr int32_t kSeeds = testing::kSanitizerSlowdown > 1 ? 2000 : 12000;
  // The random model's distributions are flat at temperature 1; at 0.25 a draft is taken
  // often enough to test the rows after it. The expected probabilities use the same.
  constexpr float kTemperature = 0.25f;
  auto backend = make_backend("cpu");
  auto model = load_model(kModel, *backend);
  auto draft = load_model(kModel, *backend);
  auto target = load_model(kModel, *backend);  // for the exact probabilities
  ModelRunnerConfig rc{.sizes = {.block_size = 4,
                                 .num_kv_blocks = 2048,
                                 .max_model_len = 64,
                                 .max_num_batched_tokens = 512,
                                 .max_num_seqs = 64,
                                 .max_draft_tokens = 2 * 64}};
  auto runner = std::make_unique<ModelRunner>(std::move(model), rc, std::move(backend));
  runner->set_draft_model(std::move(draft));
  EngineConfig config{.max_waiting = kSeeds,
                      .speculative = {.method = SpeculativeMethod::kDraftModel,
                                      .num_tokens = 2,
                                      .disable_by_batch_size = 64}};
  Engine engine(std::move(runner), Tokenizer::load(kModel), config);

  const std::vector<int32_t> prompt = {17, 300, 42, 9, 511, 77, 3, 250, 901, 14};
  std::vector<RequestHandle> handles;
  for (int32_t seed = 0; seed < kSeeds; ++seed)
    handles.push_back(engine.add_request(
        prompt, SamplingParams{.temperature = kTemperature, .seed = uint64_t(seed), .max_tokens = 3, .ignore_eos = true}));
  while (engine.step()) {
  }
  std::vector<std::array<int32_t, 3>> outputs;
  for (RequestHandle& h : handles) {
    std::vector<int32_t> ids;
    while (auto out = h.try_next()) ids.insert(ids.end(), out->token_ids.begin(), out->token_ids.end());
    ASSERT_EQ(ids.size(), 3u);
    outputs.push_back({ids[0], ids[1], ids[2]});
  }
  EXPECT_GT(engine.stats().speculation.num_accepted_tokens, 0);

  // The likeliest first token a, and the draft after it (the model's argmax b).
  std::map<int32_t, int32_t> first;
  for (const auto& o : outputs) ++first[o[0]];
  const int32_t a = std::ranges::max_element(first, {}, &std::pair<const int32_t, int32_t>::second)->first;
  RankThreads threads(1);
  std::vector<int32_t> context = prompt;
  context.push_back(a);
  const auto after_a = testing::prompt_logits({target.get()}, threads, context);
  const size_t vocab = after_a.size() / context.size();
  const auto row_a = std::span(after_a).last(vocab);
  const int32_t b = int32_t(std::ranges::max_element(row_a) - row_a.begin());

  // The model's probabilities after (a, b), and the third tokens of the runs that went there.
  context.push_back(b);
  const auto after_ab = testing::prompt_logits({target.get()}, threads, context);
  const auto row = std::span(after_ab).last(vocab);
  const float top = *std::ranges::max_element(row);
  std::vector<double> p(vocab);
  for (size_t t = 0; t < vocab; ++t) p[t] = std::exp((double(row[t]) - top) / kTemperature);
  const double total = std::accumulate(p.begin(), p.end(), 0.0);
  for (double& x : p) x /= total;
  std::vector<int32_t> third;
  for (const auto& o : outputs)
    if (o[0] == a && o[1] == b) third.push_back(o[2]);
  ASSERT_GE(third.size(), 300u) << "too few runs took the draft to test the verify row: " << first[a]
                                 << " runs began with " << a;

  std::vector<int32_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::ranges::sort(order, [&](int32_t x, int32_t y) { return p[size_t(x)] > p[size_t(y)]; });
  // The likeliest tokens each expected at least 5 times (at most 8), then everything else.
  int bins = 0;
  while (bins < 8 && p[size_t(order[size_t(bins)])] * double(third.size()) >= 5.0) ++bins;
  ASSERT_GE(bins, 2);
  std::vector<double> expected(size_t(bins) + 1, 0.0), observed(size_t(bins) + 1, 0.0);
  std::vector<int> bin(vocab, bins);
  for (int i = 0; i < bins; ++i) bin[size_t(order[size_t(i)])] = i;
  for (size_t t = 0; t < vocab; ++t) expected[size_t(bin[t])] += p[t] * double(third.size());
  for (int32_t t : third) observed[size_t(bin[size_t(t)])] += 1;
  ASSERT_GE(expected[size_t(bins)], 5.0) << "the rest";
  double chi2 = 0;
  for (size_t i = 0; i < expected.size(); ++i)
    chi2 += (observed[i] - expected[i]) * (observed[i] - expected[i]) / expected[i];
  // P(chi2 > bound) = 1e-4 for `bins` degrees of freedom (bins + 1 cells, probabilities known).
  constexpr double kBound[9] = {0, 15.137, 18.421, 21.108, 23.513, 25.745, 27.856, 29.878, 31.828};
  EXPECT_LT(chi2, kBound[bins]) << third.size() << " runs through the verify row, " << bins << " bins";
  std::cout << "first token " << a << " in " << first[a] << " of " << kSeeds << " runs, then the draft " << b << " in "
            << third.size() << "; chi-square " << chi2 << " (" << bins << " degrees of freedom, bound " << kBound[bins] << ")\n";
}

}  // namespace
}  // namespace tern
