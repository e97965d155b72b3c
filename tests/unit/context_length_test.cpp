// The context-length rule (engine/context_length.h), the one place its limits and its
// OpenAI-worded messages are written; the scheduler and the server both call it.
#include "engine/context_length.h"

#include <gtest/gtest.h>

#include <limits>

namespace tern {
namespace {

TEST(ContextLength, PromptPlusMaxTokensMayFillTheContextExactly) {
  EXPECT_EQ(context_length_error(100, 28, 128), std::nullopt);
  EXPECT_EQ(context_length_error(127, std::nullopt, 128), std::nullopt) << "one token of room is enough";
  EXPECT_EQ(context_length_error(128, 0, 128), std::nullopt) << "scoring only: no output token";
}

TEST(ContextLength, OverTheContextGivesBothCountsInOpenAIsWords) {
  EXPECT_EQ(context_length_error(100, 29, 128),
            "This model's maximum context length is 128 tokens. However, you requested 129 tokens (100 in the "
            "prompt, 29 in the completion). Please reduce the length of the prompt or completion.");
  EXPECT_EQ(context_length_error(100, 29, 128, "messages"),
            "This model's maximum context length is 128 tokens. However, you requested 129 tokens (100 in the "
            "messages, 29 in the completion). Please reduce the length of the messages or completion.");
}

TEST(ContextLength, APromptThatLeavesNoRoomIsNamedAlone) {
  EXPECT_EQ(context_length_error(128, std::nullopt, 128, "messages"),
            "This model's maximum context length is 128 tokens. However, your messages resulted in 128 tokens. "
            "Please reduce the length of the messages.");
}

TEST(ContextLength, AHugeMaxTokensSaturatesInsteadOfOverflowing) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const std::optional<std::string> e = context_length_error(10, kMax, 512);
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("you requested 9223372036854775807 tokens (10 in the prompt, 9223372036854775807 in"),
            std::string::npos)
      << *e;
}

}  // namespace
}  // namespace tern
