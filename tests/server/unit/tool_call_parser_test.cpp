// ToolCallParser: Qwen/Hermes <tool_call> blocks become calls whatever way the text is
// split into stream pieces; everything else stays content, and no tag fragment leaks.
#include "server/tool_call_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tern::server {
namespace {

struct Collected {
  std::string content;
  std::vector<ParsedToolCall> calls;
};

// Feeds `text` in pieces of `step` bytes and gathers the output.
Collected run(const std::string& text, size_t step) {
  ToolCallParser parser;
  Collected out;
  const auto absorb = [&](ToolCallDelta d) {
    out.content += d.content;
    for (auto& c : d.calls) out.calls.push_back(std::move(c));
  };
  for (size_t i = 0; i < text.size(); i += step) absorb(parser.push(text.substr(i, step)));
  absorb(parser.finish());
  return out;
}

TEST(ToolCallParser, PlainTextPassesThrough) {
  for (size_t step = 1; step <= 8; ++step) {
    const Collected c = run("Hello <b>world</b> a < b", step);
    EXPECT_EQ(c.content, "Hello <b>world</b> a < b");
    EXPECT_TRUE(c.calls.empty());
  }
}

TEST(ToolCallParser, CallsBecomeToolCallsAtEverySplit) {
  const std::string text =
      "Let me check.<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>\n";
  for (size_t step = 1; step <= text.size(); ++step) {
    const Collected c = run(text, step);
    EXPECT_EQ(c.content, "Let me check.") << "step " << step;
    ASSERT_EQ(c.calls.size(), 2u) << "step " << step;
    EXPECT_EQ(c.calls[0].name, "get_weather");
    EXPECT_EQ(c.calls[0].arguments, "{\"city\":\"Paris\"}");
    EXPECT_EQ(c.calls[1].name, "get_time");
    EXPECT_EQ(c.calls[1].arguments, "{}");
  }
}

TEST(ToolCallParser, NoTagFragmentIsEmittedBeforeItIsDecided) {
  ToolCallParser parser;
  EXPECT_EQ(parser.push("abc<tool_").content, "abc");
  EXPECT_EQ(parser.push("x").content, "<tool_x");  // not a tag after all
}

TEST(ToolCallParser, MalformedBlocksStayContent) {
  const std::string bad = "<tool_call>{not json}</tool_call>";
  EXPECT_EQ(run(bad, 3).content, bad);
  const std::string no_name = "<tool_call>{\"arguments\": {}}</tool_call>";
  EXPECT_EQ(run(no_name, 5).content, no_name);
  const std::string bad_args = "<tool_call>{\"name\": \"f\", \"arguments\": 3}</tool_call>";
  EXPECT_EQ(run(bad_args, 2).content, bad_args);
}

TEST(ToolCallParser, AnUnfinishedBlockIsReturnedAsContentAtTheEnd) {
  const Collected c = run("hi <tool_call>{\"name\": \"f\"", 4);
  EXPECT_EQ(c.content, "hi <tool_call>{\"name\": \"f\"");
  EXPECT_TRUE(c.calls.empty());
}

TEST(ToolCallParser, StringArgumentsAreKeptAsSerialised) {
  const Collected c = run("<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}</tool_call>", 7);
  ASSERT_EQ(c.calls.size(), 1u);
  EXPECT_EQ(c.calls[0].arguments, "{\"a\": 1}");
}

TEST(ToolCallParser, TextAfterCallsIsContentButNewlinesAreNot) {
  const Collected c = run("<tool_call>{\"name\": \"f\"}</tool_call>\n\nDone.", 3);
  ASSERT_EQ(c.calls.size(), 1u);
  EXPECT_EQ(c.content, "\n\nDone.");
  EXPECT_EQ(run("<tool_call>{\"name\": \"f\"}</tool_call>\n \n", 2).content, "");
}

}  // namespace
}  // namespace tern::server
