#include "engine/grammar_vocabulary.h"

namespace tern {

std::shared_ptr<const grammar::Vocabulary> grammar_vocabulary(const Tokenizer& tokenizer) {
  std::vector<std::string> bytes;
  std::vector<bool> special;
  bytes.reserve(size_t(tokenizer.vocab_size()));
  special.reserve(size_t(tokenizer.vocab_size()));
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    bytes.push_back(tokenizer.token_bytes(id, /*skip_special=*/false));
    special.push_back(tokenizer.is_special(id));
  }
  return std::make_shared<const grammar::Vocabulary>(std::move(bytes), std::move(special));
}

}  // namespace tern
