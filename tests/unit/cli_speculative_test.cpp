// Speculative decoding through the binary on the tiny fixture model: a draft model that is
// the target itself must have every draft accepted (its KV bookkeeping in the target's
// blocks, its catch-up after fully accepted steps and over chunked prefills are then
// right), and the flags refuse what cannot run. Output equality with plain decoding
// is checked on the demo model (cli_demo_test.cpp) and over HTTP
// (tests/server/speculative.test.mjs).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_support.h"

namespace tern {
namespace {

const std::string kTiny = std::string(TERN_TEST_DATA) + "/models/tiny-qwen2";

nlohmann::json bench(const std::string& args) {
  const testing::CliResult r = testing::run_tern("bench engine --quiet --backend cpu --model '" + kTiny + "' " + args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

TEST(CliSpeculative, ADraftModelThatIsTheTargetHasEveryDraftAccepted) {
  // 300-token prompts computed in chunks of 128, six at once. With an FP8 KV cache (target
  // and draft alike) each token's K and V are rounded the same way whether the target
  // verifies it among drafts or the draft decodes it alone, so every draft still matches.
  for (const std::string kv : {"auto", "fp8"}) {
    for (const std::string k : {"1", "4", "7"}) {
      const nlohmann::json r = bench("--speculative-method draft --speculative-model '" + kTiny +
                                     "' --num-speculative-tokens " + k + " --kv-cache-dtype " + kv +
                                     " --input-len 300 --output-len 40 --num-requests 6 --max-num-batched-tokens 128");
      const nlohmann::json& spec = r["speculative"];
      EXPECT_GT(spec["draft_tokens"].get<int64_t>(), 0) << "K " << k << " KV " << kv;
      EXPECT_EQ(spec["accepted_tokens"], spec["draft_tokens"]) << "K " << k << " KV " << kv;
      EXPECT_EQ(r["output_tokens"], 6 * 40);
    }
  }
}

TEST(CliSpeculative, ADraftIdleWhileTheBatchIsLargeCatchesUpWhenDraftingResumes) {
  // Eight requests, drafts only once at most three decode: the draft skips the steps
  // before, then computes what it missed (within its step budget; a sequence not caught
  // up yet drafts its last token repeated, which is mostly rejected).
  const nlohmann::json r = bench("--speculative-method draft --speculative-model '" + kTiny +
                                 "' --speculative-disable-by-batch-size 3 --input-len 200 --output-len 60 "
                                 "--num-requests 8 --max-num-batched-tokens 256");
  const nlohmann::json& spec = r["speculative"];
  EXPECT_GT(spec["draft_tokens"].get<int64_t>(), 0);
  EXPECT_GT(spec["acceptance_rate"].get<double>(), 0.8) << spec;
  EXPECT_EQ(r["output_tokens"], 8 * 60);
}

TEST(CliSpeculative, FlagsThatCannotRunAreRefusedBeforeLoading) {
  auto r = testing::run_tern("generate --model '" + kTiny + "' --prompt hi --speculative-method draft");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--speculative-method draft needs --speculative-model"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("loading weights"), std::string::npos) << r.err;
  r = testing::run_tern("generate --model '" + kTiny + "' --prompt hi --speculative-model '" + kTiny + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--speculative-model is for --speculative-method draft"), std::string::npos) << r.err;
  r = testing::run_tern("generate --model '" + kTiny + "' --prompt hi --speculative-method eagle");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--speculative-method"), std::string::npos) << r.err;
  r = testing::run_tern("generate --model '" + kTiny + "' --prompt hi --speculative-method ngram --num-speculative-tokens 17");
  EXPECT_NE(r.exit_code, 0);
}

TEST(CliSpeculative, ADraftWithALargerVocabularyIsRefused) {
  const std::string demo_draft = std::string(TERN_SOURCE_DIR) + "/models/tern-demo-draft";  // 8192 tokens; tiny has 1024
  auto r = testing::run_tern("generate --model '" + kTiny + "' --prompt hi --speculative-method draft --speculative-model '" +
                             demo_draft + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("draft model's vocabulary (8192 tokens) is larger than the target's"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace tern
