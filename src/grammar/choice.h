// `choice`: the output is exactly one of a list of strings.
#pragma once

#include <string>
#include <vector>

#include "grammar/grammar.h"

namespace tern::grammar {

// Throws tern::Error for an empty list or an empty string in it.
Grammar choice_grammar(const std::vector<std::string>& choices);

}  // namespace tern::grammar
