// tern tokenize / tern detokenize: the tokenizer of a model folder (which may hold only
// the tokenizer files) from the command line, with JSON in and out so that results can be
// compared with Hugging Face directly.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/hf_cache.h"
#include "app/engine_options.h"
#include "base/error.h"
#include "base/regular_file.h"
#include "tokenizer/json_node.h"
#include "tokenizer/tokenizer.h"

namespace tern::app {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string revision = kDefaultRevision;
  std::optional<std::string> text;  // set by --text (which may be empty)
  std::string input_json;
  bool no_special = false;
};

struct DetokenizeOptions {
  std::string model;
  std::string revision = kDefaultRevision;
  std::string input_json;
  bool skip_special_tokens = false;
};

void print_json(const nlohmann::json& value) { std::cout << value.dump(-1, ' ', /*ensure_ascii=*/false) << "\n"; }

void run_tokenize(const TokenizeOptions& options) {
  if (!options.text && options.input_json.empty()) throw error("tokenize: give --text or --input-json");
  const auto tokenizer = Tokenizer::load(resolve_model_option(options.model, options.revision).dir);
  const bool add_special_tokens = !options.no_special;
  if (options.text) {
    print_json(tokenizer->encode(*options.text, add_special_tokens));
    return;
  }
  const JsonNode input = load_json_node(options.input_json, kNoSizeLimit);
  nlohmann::json output = nlohmann::json::array();
  for (size_t i = 0; i < input.size(); ++i) {
    output.push_back(tokenizer->encode(input.element(i).as_string(), add_special_tokens));
  }
  print_json(output);
}

void run_detokenize(const DetokenizeOptions& options) {
  const auto tokenizer = Tokenizer::load(resolve_model_option(options.model, options.revision).dir);
  const JsonNode input = load_json_node(options.input_json, kNoSizeLimit);
  nlohmann::json output = nlohmann::json::array();
  for (size_t i = 0; i < input.size(); ++i) {
    const JsonNode sequence = input.element(i);
    std::vector<int32_t> ids;
    for (size_t k = 0; k < sequence.size(); ++k) {
      const int64_t id = sequence.element(k).as_integer();
      if (id < INT32_MIN || id > INT32_MAX) sequence.element(k).fail("token id ", id, " is out of range");
      ids.push_back(static_cast<int32_t>(id));
    }
    output.push_back(tokenizer->decode(ids, options.skip_special_tokens));
  }
  print_json(output);
}

}  // namespace

void add_tokenize_commands(CLI::App& app) {
  auto tokenize = std::make_shared<TokenizeOptions>();
  CLI::App* tokenize_cmd = app.add_subcommand(
      "tokenize", "Print token ids as JSON: one array for --text, an array of arrays for --input-json");
  add_model_options(*tokenize_cmd, tokenize->model, tokenize->revision, "a folder with tokenizer.json")->required();
  CLI::Option* text = tokenize_cmd->add_option("--text", tokenize->text, "Text to tokenize");
  tokenize_cmd->add_option("--input-json", tokenize->input_json, "File with a JSON array of strings")->excludes(text);
  tokenize_cmd->add_flag("--no-special", tokenize->no_special, "Do not add the post-processor's special tokens (BOS)");
  tokenize_cmd->callback([tokenize] { run_tokenize(*tokenize); });

  auto detokenize = std::make_shared<DetokenizeOptions>();
  CLI::App* detokenize_cmd =
      app.add_subcommand("detokenize", "Print the texts of a JSON array of id arrays as a JSON array of strings");
  add_model_options(*detokenize_cmd, detokenize->model, detokenize->revision, "a folder with tokenizer.json")
      ->required();
  detokenize_cmd->add_option("--input-json", detokenize->input_json, "File with a JSON array of id arrays")->required();
  detokenize_cmd->add_flag("--skip-special-tokens", detokenize->skip_special_tokens, "Leave special tokens out");
  detokenize_cmd->callback([detokenize] { run_detokenize(*detokenize); });
}

}  // namespace tern::app
