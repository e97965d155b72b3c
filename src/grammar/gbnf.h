// The grammar text format: GBNF as llama.cpp defines it.
//
//   root   ::= object                      # a rule; `root` is where matching starts
//   object ::= "{" ws (pair ("," ws pair)*)? "}"
//   pair   ::= string ":" ws value
//   ws     ::= [ \t\n]*
//
// Elements: "literal", [class] and [^class] (one character), `.` (any character), rule
// names, ( groups ), alternatives with |, and the postfixes * + ? {m} {m,} {m,n} {,n}.
// Escapes in literals and classes: \n \r \t \\ \" \' \[ \] \- \^ \/ \xHH \uHHHH
// \UHHHHHHHH. `#` starts a comment. A rule may span lines; it ends where the next
// `name ::=` begins. Rule names are letters, digits, `_` and `-`.
#pragma once

#include <string_view>

#include "grammar/grammar.h"

namespace tern::grammar {

// Throws tern::Error with the line and column of the first problem, for syntax errors, a
// rule defined twice, a rule used but not defined, and a missing `root`.
Grammar parse_gbnf(std::string_view text);

}  // namespace tern::grammar
