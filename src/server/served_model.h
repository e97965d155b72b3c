// The model a server answers for, once loaded: what validation needs (name, tokenizer,
// context length, chat template) and the running engine. Shared by every request in
// flight, so the engine outlives the last one that uses it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "server/grammar_cache.h"
#include "server/tool_call_parser.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace tern::server {

// Sampling values a request gets for the fields it leaves out: the model's
// generation_config.json (what vLLM applies), unless the server ignores it; the neutral
// values (temperature 1, no top-p / top-k / min-p, no repetition penalty) otherwise.
struct SamplingDefaults {
  std::optional<double> temperature, top_p, min_p, repetition_penalty;
  std::optional<int64_t> top_k;
  // {"temperature": 0.7, ...}: the values that are set (/v1/models shows them).
  nlohmann::ordered_json to_json() const;
};

struct ServedModel {
  // The names requests may give in `model` (others get 404), at least one; the first is
  // the id responses carry. /v1/models lists each.
  std::vector<std::string> names;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::unique_ptr<Engine> engine;                             // started by the server
  std::unique_ptr<const ChatTemplate> chat_template;          // null: no template, chat requests get 400
  int64_t created = 0;                                        // unix seconds at load
  std::unique_ptr<GrammarCache> grammars;                     // structured output, over the tokenizer's vocabulary
  ToolCallFormat tool_call_format = ToolCallFormat::kHermes;  // how the model writes tool calls
  SamplingDefaults sampling_defaults;

  int32_t max_model_len() const { return engine->sizes().max_model_len; }
  const std::string& id() const { return names.front(); }
  bool serves(const std::string& name) const { return std::find(names.begin(), names.end(), name) != names.end(); }
};

}  // namespace tern::server
