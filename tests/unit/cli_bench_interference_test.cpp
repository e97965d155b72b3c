// tern bench engine --interference-prompt-len: decodes start, a long prompt arrives, and the
// report gives the decodes' inter-token latency until its first token (with and without
// --target-itl-ms). Checks the report and that the run ends (the decodes are aborted);
// the latencies themselves are measured in docs/engine.md, not asserted here.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_support.h"

namespace tern {
namespace {

const std::string kTiny = std::string(TERN_TEST_DATA) + "/models/tiny-qwen2";

TEST(CliBenchInterference, ReportsTheDecodesLatencyWhileALongPromptIsAdmitted) {
  for (const std::string target : {"0", "5"}) {
    const testing::CliResult r =
        testing::run_tern("bench engine --quiet --backend cpu --model '" + kTiny +
                          "' --max-model-len 512 --interference-decodes 3 --interference-prompt-len 400 "
                          "--max-num-batched-tokens 64 --target-itl-ms " + target);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out)["interference"];
    EXPECT_EQ(j["decodes"], 3);
    EXPECT_EQ(j["long_prompt_len"], 400);
    EXPECT_EQ(j["target_itl_ms"], std::stod(target));
    EXPECT_GT(j["long_prompt_ttft_ms"].get<double>(), 0.0);
    // 400 tokens in chunks of at most 64 take several steps, each giving every decode a token.
    EXPECT_GE(j["decode_tokens"].get<int64_t>(), 3 * 6) << j.dump();
    EXPECT_LE(j["itl_ms_median"].get<double>(), j["itl_ms_max"].get<double>());
  }
}

TEST(CliBenchInterference, APromptLongerThanTheContextIsRefused) {
  const testing::CliResult r = testing::run_tern("bench engine --quiet --backend cpu --model '" + kTiny +
                                                 "' --max-model-len 256 --interference-prompt-len 400");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--interference-prompt-len 400 leaves no room for its first token within max_model_len 256"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace tern
