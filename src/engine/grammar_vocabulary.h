// The tokenizer's vocabulary for the grammar engine: every id's bytes (special tokens
// included, flagged so that they never count as text).
#pragma once

#include <memory>

#include "grammar/vocabulary.h"
#include "tokenizer/tokenizer.h"

namespace tern {

std::shared_ptr<const grammar::Vocabulary> grammar_vocabulary(const Tokenizer& tokenizer);

}  // namespace tern
