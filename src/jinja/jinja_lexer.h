// Splits a template into tokens exactly as Jinja2's lexer does with the options
// transformers uses (trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False):
// newlines are normalized to "\n", one trailing newline is dropped, `{%-`/`-%}`/`{{-`/
// `-}}`/`{#-`/`-#}` strip adjacent whitespace, `{%+`/`+%}` turn lstrip/trim off, a
// newline right after `%}` or `#}` is dropped, and spaces/tabs before `{%`/`{#` on an
// otherwise blank line are removed. Comments vanish; {% raw %} becomes data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tern::jinja {

struct SourcePos {
  int line = 1;
  int column = 1;  // in code points
};

enum class TokenKind {
  kData,           // literal template text
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kName,           // identifiers and keywords (if, for, and, not, true, none, ...)
  kString,         // text holds the decoded value
  kInteger,
  kFloat,
  kOperator,  // + - * / // % ** ~ == != < <= > >= = . : | , ; ( ) [ ] { }
  kEnd,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0;
  SourcePos pos;
};

// Throws tern::Error "chat template: line L, column C: ..." on invalid UTF-8, bad
// literals, unbalanced brackets and unterminated tags. The last token is kEnd.
std::vector<Token> tokenize(std::string_view source);

}  // namespace tern::jinja
