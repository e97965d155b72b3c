// ToolCallParser: calls in the hermes, llama3_json and mistral formats become tool calls
// whatever way the text is split into stream pieces, each streamed name first and then
// its arguments exactly as written; everything else stays content, and no tag fragment
// leaks.
#include "server/tool_call_parser.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace tern::server {
namespace {

struct Call {
  std::string name;
  std::string arguments;
  int pieces = 0;  // how many deltas carried it
  bool operator==(const Call& o) const { return name == o.name && arguments == o.arguments; }
};

struct Collected {
  std::string content;
  std::vector<Call> calls;
};

// Feeds `text` in pieces of `step` bytes and joins the deltas the way a client does.
Collected run(const std::string& text, size_t step, ToolCallFormat format = ToolCallFormat::kHermes,
              bool in_list = false) {
  ToolCallParser parser(format, in_list);
  Collected out;
  const auto absorb = [&](ToolCallDelta d) {
    out.content += d.content;
    for (auto& piece : d.calls) {
      if (piece.index == int32_t(out.calls.size())) {
        EXPECT_TRUE(piece.name.has_value()) << "a call's first delta names it";
        out.calls.push_back({piece.name.value_or(""), "", 0});
      } else {
        EXPECT_FALSE(piece.name.has_value()) << "only a call's first delta names it";
      }
      ASSERT_LT(piece.index, int32_t(out.calls.size()));
      out.calls[size_t(piece.index)].arguments += piece.arguments;
      ++out.calls[size_t(piece.index)].pieces;
    }
  };
  for (size_t i = 0; i < text.size(); i += step) absorb(parser.push(text.substr(i, step)));
  absorb(parser.finish());
  return out;
}

TEST(ToolCallParser, FormatsAreNamedAsVllmNamesThemAndDetectedFromTheTemplate) {
  EXPECT_EQ(tool_call_format_named("llama3_json"), ToolCallFormat::kLlama3Json);
  EXPECT_EQ(tool_call_format_named("xml"), std::nullopt);
  EXPECT_EQ(detect_tool_call_format("{{- '[TOOL_CALLS] [' }}"), ToolCallFormat::kMistral);
  EXPECT_EQ(detect_tool_call_format("<tool_call>\\n"), ToolCallFormat::kHermes);
  EXPECT_EQ(detect_tool_call_format("{{- '<|python_tag|>' }}"), ToolCallFormat::kLlama3Json);
  EXPECT_EQ(detect_tool_call_format("plain"), ToolCallFormat::kHermes);
}

TEST(ToolCallParser, PlainTextPassesThrough) {
  for (size_t step = 1; step <= 8; ++step) {
    const Collected c = run("Hello <b>world</b> a < b [TOOL", step);
    EXPECT_EQ(c.content, "Hello <b>world</b> a < b [TOOL");
    EXPECT_TRUE(c.calls.empty());
  }
}

TEST(ToolCallParser, HermesCallsStreamNameFirstThenTheArgumentsAsWritten) {
  const std::string text =
      "Let me check.<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"d\": [1, {\"x\": "
      "\"}\"}]}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>\n";
  for (size_t step = 1; step <= text.size(); ++step) {
    const Collected c = run(text, step);
    EXPECT_EQ(c.content, "Let me check.") << "step " << step;
    ASSERT_EQ(c.calls.size(), 2u) << "step " << step;
    EXPECT_EQ(c.calls[0], (Call{"get_weather", R"({"city": "Paris", "d": [1, {"x": "}"}]})"}));
    EXPECT_EQ(c.calls[1], (Call{"get_time", "{}"}));
    if (step == 1) EXPECT_GT(c.calls[0].pieces, 10) << "the arguments arrive in pieces";
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

TEST(ToolCallParser, CallsWrittenAnotherWayAreTakenWholeOnceComplete) {
  const Collected swapped = run("<tool_call>{\"arguments\": {\"a\": 1}, \"name\": \"f\"}</tool_call>", 4);
  ASSERT_EQ(swapped.calls.size(), 1u);
  EXPECT_EQ(swapped.calls[0], (Call{"f", "{\"a\":1}"}));
  const Collected string_args = run("<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}</tool_call>", 7);
  ASSERT_EQ(string_args.calls.size(), 1u);
  EXPECT_EQ(string_args.calls[0], (Call{"f", "{\"a\": 1}"}));
}

TEST(ToolCallParser, AnUnfinishedHeaderIsContentAndUnfinishedArgumentsStayACall) {
  const Collected header = run("hi <tool_call>{\"name\": \"f\"", 4);
  EXPECT_EQ(header.content, "hi <tool_call>{\"name\": \"f\"");
  EXPECT_TRUE(header.calls.empty());
  const Collected cut = run("<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": ", 3);  // max_tokens
  ASSERT_EQ(cut.calls.size(), 1u);
  EXPECT_EQ(cut.calls[0], (Call{"f", "{\"a\": "}));
}

TEST(ToolCallParser, TextAfterCallsIsContentButNewlinesAreNot) {
  const Collected c = run("<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>\n\nDone.", 3);
  ASSERT_EQ(c.calls.size(), 1u);
  EXPECT_EQ(c.content, "\n\nDone.");
  EXPECT_EQ(run("<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>\n \n", 2).content, "");
}

TEST(ToolCallParser, Llama3JsonCallsAreTheWholeOutput) {
  const std::string text =
      " <|python_tag|>{\"name\": \"f\", \"parameters\": {\"x\": 1}}; {\"name\": \"g\", \"parameters\": {}}";
  for (size_t step = 1; step <= text.size(); ++step) {
    const Collected c = run(text, step, ToolCallFormat::kLlama3Json);
    EXPECT_EQ(c.content, "") << step;
    ASSERT_EQ(c.calls.size(), 2u) << step;
    EXPECT_EQ(c.calls[0], (Call{"f", "{\"x\": 1}"}));
    EXPECT_EQ(c.calls[1], (Call{"g", "{}"}));
  }
  EXPECT_EQ(run("The answer is {x}.", 3, ToolCallFormat::kLlama3Json).content, "The answer is {x}.");
  EXPECT_EQ(run("  ", 1, ToolCallFormat::kLlama3Json).content, "  ");
}

TEST(ToolCallParser, MistralCallsFollowTheToolCallsToken) {
  const std::string text =
      "Sure.[TOOL_CALLS] [{\"name\": \"f\", \"arguments\": {\"q\": \"a, b\"}}, {\"name\": \"g\", "
      "\"arguments\": {}}]";
  for (size_t step = 1; step <= text.size(); ++step) {
    const Collected c = run(text, step, ToolCallFormat::kMistral);
    EXPECT_EQ(c.content, "Sure.") << step;
    ASSERT_EQ(c.calls.size(), 2u) << step;
    EXPECT_EQ(c.calls[0], (Call{"f", "{\"q\": \"a, b\"}"}));
    EXPECT_EQ(c.calls[1], (Call{"g", "{}"}));
  }
  // A forced call: the prompt ends with [TOOL_CALLS], the output is the list.
  const Collected forced = run("[{\"name\": \"f\", \"arguments\": {}}]", 2, ToolCallFormat::kMistral, true);
  ASSERT_EQ(forced.calls.size(), 1u);
  EXPECT_EQ(forced.content, "");
}

}  // namespace
}  // namespace tern::server
