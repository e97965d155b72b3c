// Regular expressions (the ECMAScript syntax JSON schema `pattern` uses, which Python's
// re shares for these constructs) as grammar expressions. The match is always the whole
// output: `^` at the start and `$` at the end are accepted and change nothing.
//
// Supported: literals, `.` (any character but \n), classes [a-z] [^...] with \d \w \s
// (ECMAScript meanings: ASCII digits and word characters, Unicode white space) and their
// negations, escapes \n \r \t \f \v \0 \xHH \uHHHH \u{H...} and escaped punctuation,
// groups ( ), (?: ), (?<name> ), (?P<name> ), alternation, and the quantifiers * + ? {n}
// {n,} {n,m} with an optional lazy `?` (the same strings match). Anything else, such as
// backreferences, lookaround, word boundaries, \p{...} or inline flags, is an error
// naming the construct: it is not a regular language or not supported.
#pragma once

#include <string_view>

#include "grammar/grammar.h"

namespace tern::grammar {

// Adds the pattern's language to `grammar` as one expression. Throws tern::Error naming the
// construct and its offset.
ExprId add_regex(Grammar& grammar, std::string_view pattern);

// A grammar whose root matches the pattern.
Grammar regex_grammar(std::string_view pattern);

// The ECMAScript classes \d, \w and \s.
std::vector<CodepointRange> digit_ranges();
std::vector<CodepointRange> word_ranges();
std::vector<CodepointRange> space_ranges();

}  // namespace tern::grammar
