// Forced tool calls: every output the tool-call grammar allows, in each format, is read
// back by that format's parser as calls of the given tools whose arguments are JSON
// matching the shape the schema asks for; nothing becomes content.
#include "server/tool_call_grammar.h"

#include <gtest/gtest.h>

#include <random>
#include <regex>

#include "grammar/compiled_grammar.h"
#include "grammar/matcher.h"
#include "server/api_error.h"

namespace tern::server {
namespace {

std::shared_ptr<const grammar::Vocabulary> byte_vocabulary() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.emplace_back(1, char(b));
  return std::make_shared<const grammar::Vocabulary>(std::move(tokens), std::vector<bool>(256, false));
}

// A random output of the grammar: random allowed bytes, ending when it may with odds 1/4.
std::string random_output(const std::shared_ptr<const grammar::CompiledGrammar>& g, std::mt19937& rng) {
  grammar::Matcher m(g);
  std::string out;
  std::vector<uint32_t> words(8);
  while (!m.is_terminated() && !(m.can_end() && rng() % 4 == 0)) {
    m.fill_mask(words);
    std::vector<int32_t> allowed;
    for (int32_t b = 0; b < 256; ++b)
      if ((words[size_t(b) >> 5] >> (b & 31)) & 1u) allowed.push_back(b);
    EXPECT_FALSE(allowed.empty()) << out;
    if (allowed.empty()) break;
    const int32_t b = allowed[rng() % allowed.size()];
    EXPECT_TRUE(m.accept_token(b));
    out += char(b);
  }
  return out;
}

const Json kTools = Json::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
    "properties": {"city": {"type": "string", "maxLength": 6}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
    "required": ["city", "days"]}}},
  {"type": "function", "function": {"name": "ping"}}])");

// JSON allows any exponent but nlohmann refuses numbers past a double's range (ping's
// free-form arguments can hold 878156e56192); exponents are dropped before the shape is
// checked, which keeps the text valid JSON.
Json parse_arguments(const std::string& arguments) {
  static const std::regex kExponent(R"(([0-9])[eE][-+]?[0-9]+)");
  return Json::parse(std::regex_replace(arguments, kExponent, "$1"));
}

std::vector<ToolSpec> specs() {
  return {{&kTools[0]["function"], "tools[0].function"}, {&kTools[1]["function"], "tools[1].function"}};
}

TEST(ToolCallGrammar, EveryOutputParsesBackAsCallsInEachFormat) {
  const auto vocab = byte_vocabulary();
  for (ToolCallFormat format : {ToolCallFormat::kHermes, ToolCallFormat::kLlama3Json, ToolCallFormat::kMistral}) {
    for (bool parallel : {false, true}) {
      const auto compiled = grammar::CompiledGrammar::compile(tool_call_grammar(format, specs(), parallel), vocab);
      std::mt19937 rng(7);
      for (int i = 0; i < 30; ++i) {
        const std::string text = random_output(compiled, rng);
        ToolCallParser parser(format, /*in_call_list=*/format == ToolCallFormat::kMistral);
        ToolCallDelta all = parser.push(text);
        ToolCallDelta rest = parser.finish();
        all.content += rest.content;
        all.calls.insert(all.calls.end(), rest.calls.begin(), rest.calls.end());
        EXPECT_EQ(all.content, "") << tool_call_format_name(format) << ": " << text;
        std::vector<std::pair<std::string, std::string>> calls;
        for (const ToolCallPiece& p : all.calls) {
          if (p.name) calls.emplace_back(*p.name, "");
          calls.back().second += p.arguments;
        }
        ASSERT_FALSE(calls.empty()) << text;
        if (!parallel) EXPECT_EQ(calls.size(), 1u) << text;
        for (const auto& [name, arguments] : calls) {
          const Json args = parse_arguments(arguments);
          ASSERT_TRUE(args.is_object()) << arguments;
          if (name == "get_weather") {
            EXPECT_TRUE(args["city"].is_string() && args["city"].get<std::string>().size() <= 6 * 4) << arguments;
            EXPECT_TRUE(args["days"].is_number_integer() && args["days"] >= 1 && args["days"] <= 7) << arguments;
          } else {
            EXPECT_EQ(name, "ping");
          }
        }
      }
    }
  }
}

TEST(ToolCallGrammar, ASchemaTheGrammarEngineRefusesIsA400NamingTheParameters) {
  const Json bad = Json::parse(R"({"name": "f", "parameters": {"type": "object", "patternProperties": {}}})");
  try {
    tool_call_grammar(ToolCallFormat::kHermes, {{&bad, "tools[3].function"}}, true);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.param(), "tools[3].function.parameters");
  }
}

}  // namespace
}  // namespace tern::server
