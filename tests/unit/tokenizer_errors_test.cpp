// Malformed tokenizer folders give a tern::Error naming the file and the field, never a
// crash or another exception type.
#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "base/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_fixture.h"

namespace tern {
namespace {

// The message of the tern::Error that loading a folder with these files throws.
std::string load_error(const std::string& tokenizer_json, const std::string& config_json = "") {
  testing::TempDir dir;
  dir.write("tokenizer.json", tokenizer_json);
  if (!config_json.empty()) dir.write("tokenizer_config.json", config_json);
  try {
    Tokenizer::load(dir.path());
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded without error)";
}

std::string load_error(const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json json = testing::tiny_bpe_json({{"a", "b"}});
  edit(json);
  return load_error(json.dump());
}

::testing::AssertionResult HasSubstr(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

TEST(TokenizerErrors, MissingFile) {
  testing::TempDir empty;
  std::string message;
  try {
    Tokenizer::load(empty.path());
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_TRUE(HasSubstr(message, empty.path() + "/tokenizer.json: cannot open: No such file"));
}

TEST(TokenizerErrors, InvalidJson) {
  EXPECT_TRUE(HasSubstr(load_error("{\"model\": "), "tokenizer.json: invalid JSON"));
  EXPECT_TRUE(HasSubstr(load_error("\xFF\xFE"), "tokenizer.json: invalid JSON"));
}

TEST(TokenizerErrors, AbsurdNestingIsRejectedBeforeParsing) {
  const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  EXPECT_TRUE(HasSubstr(load_error(deep), "tokenizer.json: JSON nested deeper than"));
  const std::string deep_objects = [] {
    std::string s;
    for (int i = 0; i < 100000; ++i) s += "{\"a\":";
    return s + "1" + std::string(100000, '}');
  }();
  EXPECT_TRUE(HasSubstr(load_error(deep_objects), "nested deeper"));
  // Brackets inside strings do not count.
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) { j["padding"] = std::string(5000, '['); }),
                        "(loaded without error)"));
}

TEST(TokenizerErrors, ModelProblemsNameTheField) {
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) { j.erase("model"); }), "tokenizer.json: model: missing"));
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) { j["model"]["type"] = "WordPiece"; }),
                        "model.type: unsupported model type \"WordPiece\""));
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) {
                          j["model"]["merges"][0] = {"a", "zz"};
                        }),
                        "model.merges[0]: token \"zz\" is not in model.vocab"));
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) { j["model"]["merges"][0] = "a b c"; }), "model.merges[0]"));
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) { j["model"]["merges"][0] = 7; }), "model.merges[0]"));
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) { j["model"]["vocab"]["a"] = 100000; }),
                        "model.vocab.a: id 100000 is outside 0..256"));
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) { j["model"]["vocab"]["a"] = 5; }), "duplicate id 5"));
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) { j["model"]["vocab"]["a"] = "x"; }),
                        "model.vocab.a: expected an integer"));
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) { j["model"]["vocab"] = nlohmann::json::array(); }),
                        "model.vocab: expected an object"));
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) { j["model"]["byte_fallback"] = true; }),
                        "model.byte_fallback: not supported"));
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) { j["model"]["unk_token"] = "<unk>"; }),
                        "model.unk_token: \"<unk>\" is not in model.vocab"));
}

TEST(TokenizerErrors, PipelineProblemsNameTheField) {
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) {
                          j["pre_tokenizer"] = {
                              {"type", "Sequence"},
                              {"pretokenizers",
                               {{{"type", "Split"}, {"pattern", {{"Regex", "(\\p{L"}}}, {"behavior", "Isolated"}},
                                {{"type", "ByteLevel"}}}}};
                        }),
                        "pre_tokenizer.pretokenizers[0].pattern: invalid regex"));
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) {
                          j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", nlohmann::json::array()}};
                        }),
                        "pre_tokenizer: empty pre-tokenizer sequence"));
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) {
                          j["pre_tokenizer"] = {{"type", "Sequence"},
                                                {"pretokenizers", {{{"type", "ByteLevel"}}, {{"type", "ByteLevel"}}}}};
                        }),
                        "pre_tokenizer.pretokenizers[0].type: unsupported pre-tokenizer \"ByteLevel\""));
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) {
                          j["pre_tokenizer"] = {{"type", "Metaspace"}};
                        }),
                        "pre_tokenizer.type: unsupported pre-tokenizer \"Metaspace\""));
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) {
                          j["normalizer"] = {{"type", "Lowercase"}};
                        }),
                        "normalizer.type: unsupported normalizer"));
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) {
                          j["decoder"] = {{"type", "WordPiece"}};
                        }),
                        "decoder.type: unsupported decoder"));
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) {
                          j["post_processor"] = {{"type", "BertProcessing"}};
                        }),
                        "post_processor.type: unsupported post-processor"));
}

TEST(TokenizerErrors, AddedTokenIdsMustBeTheOnesHfAssigns) {
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) {
                          j["added_tokens"] = nlohmann::json::array({testing::added_token_json(9000, "<x>", true)});
                        }),
                        "added_tokens[0].id: 9000 for \"<x>\", but Hugging Face tokenizers assigns 257"));
  EXPECT_TRUE(HasSubstr(
      load_error([](nlohmann::json& j) {
        j["added_tokens"] = {testing::added_token_json(257, "<x>", true), testing::added_token_json(257, "<y>", true)};
      }),
      "added_tokens[1].id"));
  EXPECT_TRUE(HasSubstr(
      load_error([](nlohmann::json& j) {
        j["added_tokens"] = {testing::added_token_json(257, "<x>", true), testing::added_token_json(258, "<x>", true)};
      }),
      "added_tokens[1].content: duplicate added token"));
  // A token already in the vocabulary keeps its vocabulary id.
  EXPECT_TRUE(HasSubstr(load_error([](nlohmann::json& j) {
                          j["added_tokens"] = nlohmann::json::array({testing::added_token_json('a', "a", true)});
                        }),
                        "(loaded without error)"));
}

TEST(TokenizerErrors, ConfigProblemsNameTheConfigFile) {
  const std::string tokenizer = testing::tiny_bpe_json({}).dump();
  EXPECT_TRUE(HasSubstr(load_error(tokenizer, R"({"eos_token": "<|nope|>"})"),
                        "tokenizer_config.json: eos_token: token \"<|nope|>\" is not in tokenizer.json"));
  EXPECT_TRUE(
      HasSubstr(load_error(tokenizer, R"({"bos_token": 5})"), "tokenizer_config.json: bos_token: expected a string"));
  EXPECT_TRUE(HasSubstr(load_error(tokenizer, "[[["), "tokenizer_config.json: invalid JSON"));
}

// Both files are parsed strictly: a repeated key could hide a field from whoever read the
// first, so it is an error naming the file and the object, never last-wins.
TEST(TokenizerErrors, ARepeatedKeyIsAnErrorInEitherFile) {
  std::string tokenizer = testing::tiny_bpe_json({}).dump();
  EXPECT_TRUE(HasSubstr(load_error(tokenizer, R"({"eos_token": "a", "eos_token": "b"})"),
                        "tokenizer_config.json: key 'eos_token' appears twice in one object"));
  tokenizer.insert(tokenizer.rfind('}'), R"(,"model":{})");
  EXPECT_TRUE(HasSubstr(load_error(tokenizer), "tokenizer.json: key 'model' appears twice in one object"));
}

// Truncated or corrupted files must fail with tern::Error (or load), nothing else.
TEST(TokenizerErrors, CorruptedFilesNeverEscapeAsOtherExceptions) {
  nlohmann::json base = testing::tiny_bpe_json({{"a", "b"}, {"ab", "c"}});
  base["added_tokens"] = nlohmann::json::array({testing::added_token_json(258, "<x>", true, true)});
  base["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}}}};
  const std::string text = base.dump();
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    std::string corrupted = text;
    if (trial % 2 == 0) {
      corrupted.resize(rng() % text.size());
    } else {
      for (int k = 0; k < 3; ++k) corrupted[rng() % corrupted.size()] = "{}[]\":,0a-\\ "[rng() % 12];
    }
    testing::TempDir dir;
    dir.write("tokenizer.json", corrupted);
    try {
      Tokenizer::load(dir.path())->encode("ab c <x> \xE4\xB8\xAD");
    } catch (const Error&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "trial " << trial << ": " << e.what();
    }
  }
}

}  // namespace
}  // namespace tern
