// The model a server answers for, once loaded: what validation needs (name, tokenizer,
// context length, chat template) and the running engine. Shared by every request in
// flight, so the engine outlives the last one that uses it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/engine.h"
#include "server/grammar_cache.h"
#include "server/tool_call_parser.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace tern::server {

struct ServedModel {
  std::string name;  // the id in /v1/models; requests naming another model get 404
  std::shared_ptr<const Tokenizer> tokenizer;
  std::unique_ptr<Engine> engine;                     // started by the server
  std::unique_ptr<const ChatTemplate> chat_template;  // null: no template, chat requests get 400
  int64_t created = 0;                                // unix seconds at load
  std::unique_ptr<GrammarCache> grammars;             // structured output, over the tokenizer's vocabulary
  ToolCallFormat tool_call_format = ToolCallFormat::kHermes;  // how the model writes tool calls

  int32_t max_model_len() const { return engine->config().max_model_len; }
};

}  // namespace tern::server
