// Helpers for the grammar tests: small vocabularies written as lists of token strings, a
// compiled grammar over them, and the mask a matcher gives compared with the truth (each
// token tried on a copy of the matcher).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "grammar/compiled_grammar.h"
#include "grammar/matcher.h"

namespace tern::grammar::testing {

// Tokens from their byte strings; those in `special` are control tokens.
inline std::shared_ptr<const Vocabulary> vocabulary(std::vector<std::string> tokens,
                                                    const std::vector<std::string>& special = {}) {
  std::vector<bool> flags;
  for (const std::string& t : tokens) flags.push_back(std::find(special.begin(), special.end(), t) != special.end());
  return std::make_shared<Vocabulary>(std::move(tokens), std::move(flags));
}

// Every single byte as a token: any text can be fed byte by byte.
inline std::shared_ptr<const Vocabulary> byte_vocabulary() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.emplace_back(1, char(b));
  return vocabulary(std::move(tokens));
}

// Whether the grammar matches `text` exactly (a complete output).
inline bool matches(const Grammar& grammar, std::string_view text) {
  Matcher m(CompiledGrammar::compile(grammar, byte_vocabulary()));
  return (text.empty() || m.accept_bytes(text)) && m.can_end();
}

// Whether `text` can begin an output of the grammar.
inline bool is_prefix(const Grammar& grammar, std::string_view text) {
  Matcher m(CompiledGrammar::compile(grammar, byte_vocabulary()));
  return text.empty() || m.accept_bytes(text);
}

// The tokens fill_mask allows.
inline std::vector<int32_t> allowed(Matcher& m) {
  std::vector<uint32_t> words(size_t(m.grammar().vocabulary().mask_words()));
  m.fill_mask(words);
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < m.grammar().vocabulary().size(); ++id)
    if ((words[size_t(id) >> 5] >> (id & 31)) & 1u) ids.push_back(id);
  return ids;
}

// The tokens a copy of the matcher accepts, one by one.
inline std::vector<int32_t> truly_allowed(const Matcher& m) {
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < m.grammar().vocabulary().size(); ++id) {
    Matcher copy = m;
    if (copy.accept_token(id)) ids.push_back(id);
  }
  return ids;
}

// The strings of token ids, for readable failures.
inline std::vector<std::string> token_strings(const Vocabulary& vocab, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(vocab.bytes(id));
  return out;
}

}  // namespace tern::grammar::testing
