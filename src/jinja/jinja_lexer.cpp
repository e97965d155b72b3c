#include "jinja/jinja_lexer.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/error.h"
#include "base/utf8.h"
#include "jinja/jinja_text.h"

namespace tern::jinja {
namespace {

// Longest first, as Jinja's operator regex tries them.
constexpr std::string_view kOperators[] = {"**", "//", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[",
                                           "]",  "(",  ")",  "{",  "}",  ">",  "<", "=", ".", ":", "|", ",", ";"};

enum class TagKind { kBlock, kVariable, kComment };

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int hex_value(char c) { return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10; }

// lstrip_blocks: drops the whitespace between the start of the last line of `text`
// and the tag that follows. As in Jinja 3.1.6 that rest of the line must be non-empty
// Unicode whitespace (`\s+`), and the text must contain a newline or begin a line.
void lstrip_line(std::string& text, bool line_starting) {
  size_t line_start = text.rfind('\n');
  line_start = line_start == std::string::npos ? 0 : line_start + 1;
  if ((line_start == 0 && !line_starting) || line_start == text.size()) return;
  size_t pos = line_start;
  while (pos < text.size())
    if (!is_py_space(next_code_point(text, pos))) return;
  text.resize(line_start);
}

std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();  // keep_trailing_newline=False
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string src) : src_(std::move(src)) {}

  std::vector<Token> run() {
    if (const size_t bad = utf8::first_invalid(src_); bad != std::string_view::npos) {
      pos_ = bad;
      fail("invalid UTF-8");
    }
    while (pos_ < src_.size()) lex_root();
    push(TokenKind::kEnd, "", pos_);
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(const std::string& message) const { fail_at(pos_, message); }

  [[noreturn]] void fail_at(size_t offset, const std::string& message) const {
    SourcePos p = position_of(offset);
    throw tern::error("chat template: line ", p.line, ", column ", p.column, ": ", message);
  }

  SourcePos position_of(size_t offset) const {
    // Tokens arrive in order, so the line scan resumes where the last one stopped.
    if (offset < cached_offset_) {
      cached_offset_ = 0;
      cached_ = SourcePos{};
    }
    for (size_t i = cached_offset_; i < offset; ++i) {
      if (src_[i] == '\n') {
        ++cached_.line;
        cached_.column = 1;
      } else if ((static_cast<unsigned char>(src_[i]) & 0xC0) != 0x80) {
        ++cached_.column;
      }
    }
    cached_offset_ = offset;
    return cached_;
  }

  Token& push(TokenKind kind, std::string text, size_t offset) {
    Token& t = tokens_.emplace_back();
    t.kind = kind;
    t.text = std::move(text);
    t.pos = position_of(offset);
    return t;
  }

  bool at(std::string_view s) const { return src_.compare(pos_, s.size(), s) == 0; }

  void skip_space() {
    while (pos_ < src_.size()) {
      size_t next = pos_;
      if (!is_py_space(next_code_point(src_, next))) break;
      pos_ = next;
    }
  }

  // Template text up to the next tag, then the tag. `line_starting_` says whether the
  // text begins a line (the previous tag ended with a newline, or template start).
  void lex_root() {
    size_t start = pos_;
    size_t tag = src_.find('{', pos_);
    while (tag != std::string::npos &&
           !(tag + 1 < src_.size() && (src_[tag + 1] == '{' || src_[tag + 1] == '%' || src_[tag + 1] == '#')))
      tag = src_.find('{', tag + 1);
    if (tag == std::string::npos) {
      push(TokenKind::kData, src_.substr(start), start);
      pos_ = src_.size();
      return;
    }
    char opener = src_[tag + 1];
    TagKind kind = opener == '{' ? TagKind::kVariable : opener == '%' ? TagKind::kBlock : TagKind::kComment;
    char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
    if (sign != '-' && sign != '+') sign = '\0';

    std::string text = src_.substr(start, tag - start);
    if (sign == '-') {
      text = py_strip(text, false, true);
    } else if (sign != '+' && kind != TagKind::kVariable) {
      lstrip_line(text, line_starting_);
    }
    if (!text.empty()) push(TokenKind::kData, std::move(text), start);

    pos_ = tag + 2 + (sign ? 1 : 0);
    if (kind == TagKind::kComment) {
      lex_comment(tag);
    } else if (kind == TagKind::kBlock && lex_raw(tag)) {
      return;
    } else {
      push(kind == TagKind::kBlock ? TokenKind::kBlockBegin : TokenKind::kVariableBegin, "", tag);
      lex_tag(kind, tag);
    }
  }

  void lex_comment(size_t tag) {
    size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) fail_at(tag, "missing end of comment tag");
    char sign = end > pos_ ? src_[end - 1] : '\0';
    pos_ = end + 2;
    finish_tag(sign == '-' ? '-' : sign == '+' ? '+' : '\0', true);
  }

  // After the end of a block or comment: `-` strips all following whitespace, `+`
  // keeps it, and otherwise trim_blocks drops one newline.
  void finish_tag(char sign, bool trim_blocks) {
    if (sign == '-') {
      skip_space();
    } else if (sign != '+' && trim_blocks && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
    }
    line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
  }

  // {% raw %}...{% endraw %}: the body is data. Returns false when the block is not raw.
  bool lex_raw(size_t tag) {
    size_t p = pos_;
    auto skip_ws = [this](size_t& i) {
      while (i < src_.size()) {
        size_t next = i;
        if (!is_py_space(next_code_point(src_, next))) break;
        i = next;
      }
    };
    skip_ws(p);
    if (src_.compare(p, 3, "raw") != 0) return false;
    p += 3;
    skip_ws(p);
    bool strip_after = src_.compare(p, 3, "-%}") == 0;
    if (!strip_after && src_.compare(p, 2, "%}") != 0) return false;
    pos_ = p + (strip_after ? 3 : 2);
    if (strip_after) skip_space();
    bool body_starts_line = src_[pos_ - 1] == '\n';
    size_t body = pos_;
    size_t search = body;
    while (true) {
      size_t end_tag = src_.find("{%", search);
      if (end_tag == std::string::npos) fail_at(tag, "missing end of raw directive");
      size_t q = end_tag + 2;
      char end_sign = q < src_.size() && (src_[q] == '-' || src_[q] == '+') ? src_[q] : '\0';
      if (end_sign) ++q;
      skip_ws(q);
      if (src_.compare(q, 6, "endraw") != 0) {
        search = end_tag + 2;
        continue;
      }
      q += 6;
      skip_ws(q);
      char close_sign = src_.compare(q, 3, "-%}") == 0 ? '-' : src_.compare(q, 3, "+%}") == 0 ? '+' : '\0';
      if (!close_sign && src_.compare(q, 2, "%}") != 0) {
        search = end_tag + 2;
        continue;
      }
      std::string text = src_.substr(body, end_tag - body);
      if (end_sign == '-') {
        text = py_strip(text, false, true);
      } else if (end_sign != '+') {
        lstrip_line(text, body_starts_line);
      }
      if (!text.empty()) push(TokenKind::kData, std::move(text), body);
      pos_ = q + (close_sign ? 3 : 2);
      finish_tag(close_sign, true);
      return true;
    }
  }

  void lex_tag(TagKind kind, size_t tag) {
    std::vector<char> brackets;  // expected closers; tag ends only when balanced
    while (true) {
      skip_space();
      if (pos_ >= src_.size()) fail_at(tag, "unexpected end of template, expected end of tag");
      if (brackets.empty() && lex_tag_end(kind)) return;
      char c = src_[pos_];
      if (is_digit(c)) {
        lex_number();
      } else if (is_name_start(c)) {
        size_t start = pos_;
        while (pos_ < src_.size() && is_name_char(src_[pos_])) ++pos_;
        push(TokenKind::kName, src_.substr(start, pos_ - start), start);
      } else if (c == '\'' || c == '"') {
        lex_string();
      } else {
        lex_operator(brackets);
      }
    }
  }

  bool lex_tag_end(TagKind kind) {
    size_t start = pos_;
    if (kind == TagKind::kVariable) {
      bool strip = at("-}}");
      if (!strip && !at("}}")) return false;
      pos_ += strip ? 3 : 2;
      push(TokenKind::kVariableEnd, "", start);
      finish_tag(strip ? '-' : '+', false);
      return true;
    }
    char sign = at("-%}") ? '-' : at("+%}") ? '+' : '\0';
    if (!sign && !at("%}")) return false;
    pos_ += sign ? 3 : 2;
    push(TokenKind::kBlockEnd, "", start);
    finish_tag(sign, true);
    return true;
  }

  void lex_number() {
    size_t start = pos_;
    auto digits = [this](auto pred) {
      size_t begin = pos_;
      while (pos_ < src_.size() && (pred(src_[pos_]) || (src_[pos_] == '_' && pos_ + 1 < src_.size() &&
                                                         pred(src_[pos_ + 1]) && pos_ > begin)))
        ++pos_;
      return pos_ > begin;
    };
    auto strip_underscores = [](std::string s) {
      std::erase(s, '_');
      return s;
    };
    if (src_[pos_] == '0' && pos_ + 1 < src_.size() && std::strchr("bBoOxX", src_[pos_ + 1]) != nullptr) {
      char base_char = static_cast<char>(src_[pos_ + 1] | 0x20);
      int base = base_char == 'b' ? 2 : base_char == 'o' ? 8 : 16;
      pos_ += 2;
      if (pos_ < src_.size() && src_[pos_] == '_') ++pos_;
      size_t body = pos_;
      bool ok =
          digits([base](char c) { return base == 16 ? is_hex(c) : (c >= '0' && c < static_cast<char>('0' + base)); });
      if (!ok) fail_at(start, "invalid integer literal");
      emit_integer(strip_underscores(src_.substr(body, pos_ - body)), base, start);
      return;
    }
    digits(is_digit);
    bool after_dot = start > 0 && src_[start - 1] == '.';
    bool is_float = false;
    if (!after_dot && pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
      ++pos_;
      digits(is_digit);
      is_float = true;
    }
    if (!after_dot && pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t save = pos_;
      ++pos_;
      if (pos_ < src_.size() && (src_[pos_] == '+' || src_[pos_] == '-')) ++pos_;
      if (pos_ < src_.size() && is_digit(src_[pos_])) {
        digits(is_digit);
        is_float = true;
      } else {
        pos_ = save;
      }
    }
    std::string text = strip_underscores(src_.substr(start, pos_ - start));
    if (is_float) {
      push(TokenKind::kFloat, text, start).float_value = std::strtod(text.c_str(), nullptr);
      return;
    }
    if (text.size() > 1 && text[0] == '0' && text.find_first_not_of('0') != std::string::npos) {
      // Jinja reads "012" as "0" followed by "12"; that can never parse, so say so here.
      fail_at(start, "leading zeros in decimal integer literals are not permitted");
    }
    emit_integer(text, 10, start);
  }

  void emit_integer(const std::string& digits, int base, size_t start) {
    errno = 0;
    char* end = nullptr;
    long long value = std::strtoll(digits.c_str(), &end, base);
    if (errno == ERANGE) fail_at(start, "integer literal too large");
    push(TokenKind::kInteger, digits, start).int_value = value;
  }

  void lex_string() {
    size_t start = pos_;
    char quote = src_[pos_++];
    std::string value;
    while (true) {
      if (pos_ >= src_.size()) fail_at(start, "unterminated string literal");
      char c = src_[pos_];
      if (c == quote) {
        ++pos_;
        break;
      }
      if (c != '\\') {
        value += c;
        ++pos_;
        continue;
      }
      if (pos_ + 1 >= src_.size()) fail_at(start, "unterminated string literal");
      decode_escape(value);
    }
    push(TokenKind::kString, std::move(value), start);
  }

  // Python's unicode-escape decoding; unknown escapes keep their backslash.
  void decode_escape(std::string& value) {
    size_t esc = pos_;
    char c = src_[pos_ + 1];
    pos_ += 2;
    switch (c) {
      case '\n':
        return;
      case '\\':
      case '\'':
      case '"':
        value += c;
        return;
      case 'a':
        value += '\a';
        return;
      case 'b':
        value += '\b';
        return;
      case 'f':
        value += '\f';
        return;
      case 'n':
        value += '\n';
        return;
      case 'r':
        value += '\r';
        return;
      case 't':
        value += '\t';
        return;
      case 'v':
        value += '\v';
        return;
      case 'x':
        append_code_point(value, read_hex(2, esc), esc);
        return;
      case 'u':
        append_code_point(value, read_hex(4, esc), esc);
        return;
      case 'U':
        append_code_point(value, read_hex(8, esc), esc);
        return;
      case 'N':
        fail_at(esc, "\\N{...} escapes are not supported");
      default:
        break;
    }
    if (c >= '0' && c <= '7') {
      char32_t cp = c - '0';
      for (int k = 0; k < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7'; ++k)
        cp = cp * 8 + (src_[pos_++] - '0');
      append_code_point(value, cp, esc);
      return;
    }
    value += '\\';
    pos_ = esc + 1;  // the character after the backslash is taken literally
  }

  char32_t read_hex(int count, size_t esc) {
    char32_t cp = 0;
    for (int k = 0; k < count; ++k) {
      if (pos_ >= src_.size() || !is_hex(src_[pos_])) fail_at(esc, "truncated escape sequence in string literal");
      cp = cp * 16 + static_cast<char32_t>(hex_value(src_[pos_++]));
    }
    return cp;
  }

  void append_code_point(std::string& value, char32_t cp, size_t esc) {
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) fail_at(esc, "escape is not a valid Unicode scalar value");
    append_utf8(value, cp);
  }

  void lex_operator(std::vector<char>& brackets) {
    size_t start = pos_;
    for (std::string_view op : kOperators) {
      if (!at(op)) continue;
      pos_ += op.size();
      char c = op[0];
      if (op.size() == 1 && (c == '(' || c == '[' || c == '{')) {
        brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
      } else if (op.size() == 1 && (c == ')' || c == ']' || c == '}')) {
        if (brackets.empty()) fail_at(start, std::string("unexpected '") + c + "'");
        if (brackets.back() != c)
          fail_at(start, std::string("unexpected '") + c + "', expected '" + brackets.back() + "'");
        brackets.pop_back();
      }
      push(TokenKind::kOperator, std::string(op), start);
      return;
    }
    size_t next = pos_;
    char32_t cp = next_code_point(src_, next);
    std::string shown;
    append_utf8(shown, cp);
    fail_at(start, "unexpected char '" + shown + "'");
  }

  std::string src_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
  mutable size_t cached_offset_ = 0;
  mutable SourcePos cached_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(normalize_newlines(source)).run(); }

}  // namespace tern::jinja
