// libFuzzer target: structured output's grammar sources and matcher. The input is taken as
// a GBNF grammar, a regex and (when it parses) a JSON schema; each that compiles is run by
// a matcher for a few steps, always taking the first token its mask allows, over a small
// byte-level vocabulary with multi-byte and partial-UTF-8 tokens. Refusals may only be
// tern::Error; an allowed token must be accepted; the mask must never be empty while the
// output cannot end.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "fuzz_support.h"
#include "grammar/gbnf.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/regex.h"

namespace {

std::shared_ptr<const tern::grammar::Vocabulary> vocabulary() {
  static const auto vocab = [] {
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) tokens.emplace_back(1, char(b));
    for (const char* t : {"{\"", "\": ", ", \"", "\"}", "ab", "\xC3", "\xA9", "\xE4\xBD", "</tool_call>", "true"})
      tokens.emplace_back(t);
    tokens.emplace_back("<|end|>");
    std::vector<bool> special(tokens.size(), false);
    special.back() = true;
    return std::make_shared<const tern::grammar::Vocabulary>(std::move(tokens), std::move(special));
  }();
  return vocab;
}

void run(const tern::grammar::Grammar& g) {
  const tern::grammar::AutomatonLimits limits{.max_states_per_rule = 20'000, .max_inline_size = 4096};
  std::shared_ptr<const tern::grammar::CompiledGrammar> compiled;
  try {
    compiled = tern::grammar::CompiledGrammar::compile(g, vocabulary(), limits);
  } catch (const tern::Error&) {
    return;
  }
  tern::grammar::Matcher m(compiled);
  std::vector<uint32_t> words(size_t(vocabulary()->mask_words()));
  for (int step = 0; step < 16 && !m.is_terminated(); ++step) {
    m.fill_mask(words);
    int32_t first = -1;
    for (int32_t id = 0; id < vocabulary()->size() && first < 0; ++id)
      if ((words[size_t(id) >> 5] >> (id & 31)) & 1u) first = id;
    if (first < 0) {
      if (!m.can_end()) std::abort();  // a dead end: the automaton let a prefix in that cannot finish
      return;
    }
    if (!m.accept_token(first)) std::abort();  // the mask allowed a token the matcher refuses
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const std::string_view text = tern::fuzz::as_text(data, size);
  try {
    run(tern::grammar::parse_gbnf(text));
  } catch (const tern::Error&) {
  }
  try {
    run(tern::grammar::regex_grammar(text));
  } catch (const tern::Error&) {
  }
  const nlohmann::ordered_json schema = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!schema.is_discarded()) {
    try {
      run(tern::grammar::json_schema_grammar(schema));
    } catch (const tern::Error&) {
    }
  }
  return 0;
}
