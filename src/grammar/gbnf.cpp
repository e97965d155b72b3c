#include "grammar/gbnf.h"

#include <cctype>
#include <limits>

#include "base/error.h"
#include "base/utf8.h"

namespace tern::grammar {
namespace {

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Grammar parse() {
    if (const size_t bad = utf8::first_invalid(text_); bad != std::string_view::npos) {
      pos_ = bad;
      fail("the grammar is not valid UTF-8");
    }
    skip_space();
    while (pos_ < text_.size()) {
      const size_t name_pos = pos_;
      const std::string name = parse_name();
      skip_space();
      if (!consume("::=")) fail("expected '::=' after the rule name '" + name + "'");
      RuleId rule = grammar_.find_rule(name);
      if (rule < 0) {
        rule = grammar_.add_rule(name);
      } else if (grammar_.rule(rule).body >= 0) {
        pos_ = name_pos;
        fail("rule '" + name + "' is defined twice");
      }
      grammar_.set_body(rule, parse_alternatives(0));
      skip_space();
    }
    for (RuleId r = 0; r < grammar_.num_rules(); ++r) {
      if (grammar_.rule(r).body < 0) {
        pos_ = first_use_[size_t(r)];
        fail("rule '" + grammar_.rule(r).name + "' is used but not defined");
      }
    }
    const RuleId root = grammar_.find_rule("root");
    if (root < 0) throw error("the grammar has no rule named 'root' (where matching starts)");
    grammar_.set_root(root);
    return std::move(grammar_);
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n')
        ++line, column = 1;
      else
        ++column;
    }
    throw error("grammar line ", line, " column ", column, ": ", message);
  }

  void skip_space() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else {
        break;
      }
    }
  }
  bool consume(std::string_view s) {
    if (text_.substr(pos_, s.size()) != s) return false;
    pos_ += s.size();
    return true;
  }
  std::string parse_name() {
    const size_t start = pos_;
    while (pos_ < text_.size() && is_name_char(text_[pos_])) ++pos_;
    if (pos_ == start) fail("expected a rule name");
    return std::string(text_.substr(start, pos_ - start));
  }
  // Whether a rule definition (`name ::=`) starts at pos_.
  bool at_rule_start() const {
    size_t p = pos_;
    while (p < text_.size() && is_name_char(text_[p])) ++p;
    if (p == pos_) return false;
    while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t' || text_[p] == '\n' || text_[p] == '\r')) ++p;
    return text_.substr(p, 3) == "::=";
  }

  ExprId parse_alternatives(int depth) {
    if (depth > 64) fail("groups are nested too deeply");
    std::vector<ExprId> alts{parse_sequence(depth)};
    while (pos_ < text_.size() && text_[pos_] == '|') {
      ++pos_;
      alts.push_back(parse_sequence(depth));
    }
    return grammar_.alt(std::move(alts));
  }

  ExprId parse_sequence(int depth) {
    std::vector<ExprId> items;
    while (true) {
      skip_space();
      if (pos_ >= text_.size()) break;
      const char c = text_[pos_];
      if (c == '|' || c == ')') break;
      if (is_name_char(c) && at_rule_start()) break;
      items.push_back(parse_postfix(parse_primary(depth)));
    }
    return grammar_.seq(std::move(items));
  }

  ExprId parse_primary(int depth) {
    const char c = text_[pos_];
    if (c == '"') return parse_literal();
    if (c == '[') return parse_class();
    if (c == '.') {
      ++pos_;
      return grammar_.char_class({{0, kMaxCodepoint}});
    }
    if (c == '(') {
      ++pos_;
      const ExprId inner = parse_alternatives(depth + 1);
      skip_space();
      if (!consume(")")) fail("expected ')'");
      return inner;
    }
    if (is_name_char(c)) {
      const size_t at = pos_;
      const std::string name = parse_name();
      RuleId rule = grammar_.find_rule(name);
      if (rule < 0) rule = grammar_.add_rule(name);
      if (first_use_.size() <= size_t(rule)) first_use_.resize(size_t(rule) + 1, at);
      return grammar_.ref(rule);
    }
    fail(std::string("unexpected character '") + c + "'");
  }

  ExprId parse_postfix(ExprId item) {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '*') {
        ++pos_, item = grammar_.star(item);
      } else if (c == '+') {
        ++pos_, item = grammar_.plus(item);
      } else if (c == '?') {
        ++pos_, item = grammar_.optional(item);
      } else if (c == '{') {
        ++pos_;
        skip_space();
        const int32_t min = pos_ < text_.size() && text_[pos_] == ',' ? 0 : parse_count();
        int32_t max = min;
        skip_space();
        if (consume(",")) {
          skip_space();
          max = pos_ < text_.size() && text_[pos_] == '}' ? kUnbounded : parse_count();
          skip_space();
        }
        if (!consume("}")) fail("expected '}' to close the repetition");
        if (max != kUnbounded && max < min) fail("repetition {m,n} needs m <= n");
        item = grammar_.repeat(item, min, max);
      } else {
        break;
      }
    }
    return item;
  }

  int32_t parse_count() {
    const size_t start = pos_;
    int64_t value = 0;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      value = value * 10 + (text_[pos_++] - '0');
      if (value > 100000) fail("repetition counts are limited to 100000");
    }
    if (pos_ == start) fail("expected a number in the repetition");
    return int32_t(value);
  }

  // One character of a literal or class, escapes decoded.
  char32_t parse_char() {
    if (pos_ >= text_.size()) fail("unexpected end of text");
    if (text_[pos_] != '\\') {
      return utf8::decode_at(text_, pos_);  // the text was checked to be UTF-8
    }
    ++pos_;
    if (pos_ >= text_.size()) fail("unexpected end of text after '\\'");
    const char e = text_[pos_++];
    switch (e) {
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case '\\':
      case '"':
      case '\'':
      case '[':
      case ']':
      case '-':
      case '^':
      case '/':
        return char32_t(e);
      case 'x':
        return parse_hex(2);
      case 'u':
        return parse_hex(4);
      case 'U':
        return parse_hex(8);
      default:
        pos_ -= 2;  // point at the backslash
        fail(std::string("unknown escape '\\") + e + "'");
    }
  }

  char32_t parse_hex(int digits) {
    uint32_t value = 0;
    for (int i = 0; i < digits; ++i) {
      if (pos_ >= text_.size() || !std::isxdigit(static_cast<unsigned char>(text_[pos_])))
        fail("expected " + std::to_string(digits) + " hex digits");
      const char h = text_[pos_++];
      value =
          value * 16 + uint32_t(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
    }
    if (value > kMaxCodepoint || (value >= 0xD800 && value <= 0xDFFF)) fail("the escape is not a Unicode scalar value");
    return char32_t(value);
  }

  ExprId parse_literal() {
    ++pos_;
    std::string bytes;
    while (true) {
      if (pos_ >= text_.size()) fail("unterminated string literal");
      if (text_[pos_] == '"') break;
      utf8::append(parse_char(), bytes);
    }
    ++pos_;
    return grammar_.bytes(bytes);
  }

  ExprId parse_class() {
    ++pos_;
    const bool negated = consume("^");
    std::vector<CodepointRange> ranges;
    while (true) {
      if (pos_ >= text_.size()) fail("unterminated character class");
      if (text_[pos_] == ']') break;
      const char32_t lo = parse_char();
      char32_t hi = lo;
      if (pos_ + 1 < text_.size() && text_[pos_] == '-' && text_[pos_ + 1] != ']') {
        ++pos_;
        hi = parse_char();
        if (hi < lo) fail("a character range needs its ends in order");
      }
      ranges.push_back({lo, hi});
    }
    ++pos_;
    return grammar_.char_class(std::move(ranges), negated);
  }

  std::string_view text_;
  size_t pos_ = 0;
  Grammar grammar_;
  std::vector<size_t> first_use_;
};

}  // namespace

Grammar parse_gbnf(std::string_view text) { return Parser(text).parse(); }

}  // namespace tern::grammar
