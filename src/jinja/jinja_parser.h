// Builds the syntax tree from tokens, following Jinja2's grammar and operator
// precedence (parser.py): or < and < not < comparisons/in < + - < ~ < * / // % < ** <
// unary - + < postfix (.attr, [item], call) < filters and tests.
//
// Supported statements: if/elif/else, for (tuple targets, `if` filter, else),
// set (expression, ns.attr, block form), macro, call, filter, with, print,
// break/continue, and transformers' generation block. Others (include, extends,
// import, block, do, ...) are rejected: transformers would reject them too, or
// they reach outside the template.
#pragma once

#include <vector>

#include "jinja/jinja_ast.h"
#include "jinja/jinja_lexer.h"

namespace tern::jinja {

// Throws tern::Error "chat template: line L, column C: ..." on syntax errors or when
// blocks or expressions nest deeper than the parser allows.
Body parse(std::vector<Token> tokens);

}  // namespace tern::jinja
