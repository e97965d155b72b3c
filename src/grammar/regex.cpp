#include "grammar/regex.h"

#include <cctype>

#include "base/error.h"
#include "base/utf8.h"

namespace tern::grammar {

std::vector<CodepointRange> digit_ranges() { return {{'0', '9'}}; }
std::vector<CodepointRange> word_ranges() { return {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}; }
std::vector<CodepointRange> space_ranges() {
  return {{'\t', '\r'},     {' ', ' '},       {0xA0, 0xA0},     {0x1680, 0x1680}, {0x2000, 0x200A},
          {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
}

namespace {

class RegexParser {
 public:
  RegexParser(Grammar& grammar, std::string_view pattern) : g_(grammar), p_(pattern) {}

  ExprId parse() {
    if (const size_t bad = utf8::first_invalid(p_); bad != std::string_view::npos) {
      pos_ = bad;
      fail("the pattern is not valid UTF-8");
    }
    if (at('^')) ++pos_;
    const ExprId e = parse_alternation(0);
    if (pos_ < p_.size()) {
      if (p_[pos_] == ')') fail("unbalanced ')'");
      fail("unexpected character");
    }
    return e;
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw error("regex ", quoted(), " at offset ", pos_, ": ", message);
  }
  std::string quoted() const {
    std::string shown(p_.substr(0, 200));
    if (p_.size() > 200) shown += "...";
    return "'" + shown + "'";
  }
  bool at(char c) const { return pos_ < p_.size() && p_[pos_] == c; }

  ExprId parse_alternation(int depth) {
    if (depth > 64) fail("groups are nested too deeply");
    std::vector<ExprId> alts{parse_concat(depth)};
    while (at('|')) {
      ++pos_;
      alts.push_back(parse_concat(depth));
    }
    return g_.alt(std::move(alts));
  }

  ExprId parse_concat(int depth) {
    std::vector<ExprId> items;
    while (pos_ < p_.size() && !at('|') && !at(')')) {
      if (at('$')) {
        ++pos_;
        if (pos_ != p_.size()) fail("'$' is only supported at the end of the pattern");
        break;
      }
      if (at('^')) fail("'^' is only supported at the start of the pattern");
      items.push_back(parse_quantified(parse_atom(depth)));
    }
    return g_.seq(std::move(items));
  }

  ExprId parse_quantified(ExprId atom) {
    while (pos_ < p_.size()) {
      int32_t min, max;
      const char c = p_[pos_];
      if (c == '*') {
        min = 0, max = kUnbounded, ++pos_;
      } else if (c == '+') {
        min = 1, max = kUnbounded, ++pos_;
      } else if (c == '?') {
        min = 0, max = 1, ++pos_;
      } else if (c == '{' && parse_braces(min, max)) {
      } else {
        break;
      }
      if (at('?'))
        ++pos_;  // lazy: the same strings match
      else if (at('+'))
        fail("possessive quantifiers are not supported");
      atom = g_.repeat(atom, min, max);
    }
    return atom;
  }

  // {n}, {n,}, {n,m}, {,m}; false (nothing consumed) when the brace is a literal.
  bool parse_braces(int32_t& min, int32_t& max) {
    size_t p = pos_ + 1;
    const auto number = [&](int32_t& out) {
      const size_t start = p;
      int64_t v = 0;
      while (p < p_.size() && std::isdigit(static_cast<unsigned char>(p_[p])))
        v = std::min<int64_t>(v * 10 + (p_[p++] - '0'), 1 << 30);
      out = int32_t(v);
      return p > start;
    };
    const bool has_min = number(min);
    if (!has_min) min = 0;
    max = min;
    if (p < p_.size() && p_[p] == ',') {
      ++p;
      if (!number(max)) max = kUnbounded;
    } else if (!has_min) {
      return false;
    }
    if (p >= p_.size() || p_[p] != '}') return false;
    if (!has_min && max == kUnbounded) return false;
    pos_ = p + 1;
    if (max != kUnbounded && max < min) fail("repetition {n,m} needs n <= m");
    if (min > 100000 || max > 100000) fail("repetition counts are limited to 100000");
    return true;
  }

  ExprId parse_atom(int depth) {
    const char c = p_[pos_];
    switch (c) {
      case '(':
        return parse_group(depth);
      case '[':
        return parse_class();
      case '.':
        ++pos_;
        return g_.char_class({{'\n', '\n'}}, /*negated=*/true);
      case '*':
      case '+':
      case '?':
        fail("a quantifier needs something to repeat");
      case '{': {
        int32_t min, max;
        const size_t save = pos_;
        if (parse_braces(min, max)) {
          pos_ = save;
          fail("a quantifier needs something to repeat");
        }
        ++pos_;
        return g_.bytes("{");
      }
      case '\\':
        return parse_escape_atom();
      default: {
        const char32_t cp = utf8::decode_at(p_, pos_);  // the pattern was checked to be UTF-8
        std::string bytes;
        utf8::append(cp, bytes);
        return g_.bytes(bytes);
      }
    }
  }

  ExprId parse_group(int depth) {
    ++pos_;
    if (at('?')) {
      const std::string_view rest = p_.substr(pos_);
      if (rest.starts_with("?:")) {
        pos_ += 2;
      } else if (rest.starts_with("?=") || rest.starts_with("?!") || rest.starts_with("?<=") ||
                 rest.starts_with("?<!")) {
        fail("lookaround assertions are not supported");
      } else if (rest.starts_with("?<") || rest.starts_with("?P<")) {
        const size_t close = p_.find('>', pos_);
        if (close == std::string_view::npos) fail("unterminated group name");
        pos_ = close + 1;
      } else if (rest.starts_with("?P=")) {
        fail("backreferences are not supported");
      } else {
        fail("inline flags and other (? groups are not supported");
      }
    }
    const ExprId inner = parse_alternation(depth + 1);
    if (!at(')')) fail("missing ')'");
    ++pos_;
    return inner;
  }

  ExprId parse_escape_atom() {
    std::vector<CodepointRange> ranges;
    bool negated = false;
    if (class_escape(ranges, negated, /*in_class=*/false)) return g_.char_class(std::move(ranges), negated);
    std::string bytes;
    utf8::append(escaped_char(false), bytes);
    return g_.bytes(bytes);
  }

  // \d \D \w \W \s \S at pos_ (on the backslash): sets the ranges and consumes them.
  bool class_escape(std::vector<CodepointRange>& ranges, bool& negated, bool in_class) {
    if (pos_ + 1 >= p_.size()) return false;
    const char e = p_[pos_ + 1];
    switch (e) {
      case 'd':
      case 'D':
        ranges = digit_ranges();
        break;
      case 'w':
      case 'W':
        ranges = word_ranges();
        break;
      case 's':
      case 'S':
        ranges = space_ranges();
        break;
      default:
        return false;
    }
    negated = std::isupper(static_cast<unsigned char>(e));
    if (negated && in_class) fail("negated class escapes (\\D \\W \\S) inside [...] are not supported");
    pos_ += 2;
    return true;
  }

  // One escaped character at pos_ (on the backslash).
  char32_t escaped_char(bool in_class) {
    const size_t start = pos_;
    const auto refuse = [&](const std::string& message) {
      pos_ = start;  // errors point at the backslash
      fail(message);
    };
    ++pos_;
    if (pos_ >= p_.size()) refuse("the pattern ends with '\\'");
    const char e = p_[pos_++];
    switch (e) {
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      case '0':
        if (pos_ < p_.size() && std::isdigit(static_cast<unsigned char>(p_[pos_])))
          refuse("octal escapes are not supported");
        return 0;
      case 'x':
        return hex(2);
      case 'u':
        if (at('{')) {
          ++pos_;
          const size_t close = p_.find('}', pos_);
          if (close == std::string_view::npos || close == pos_ || close - pos_ > 6) refuse("bad \\u{...} escape");
          const char32_t cp = hex(int(close - pos_));
          ++pos_;
          return cp;
        }
        return hex(4);
      case 'b':
        if (in_class) return '\b';
        refuse("word boundaries (\\b) are not supported");
      case 'B':
        refuse("word boundaries (\\B) are not supported");
      case 'p':
      case 'P':
        refuse("Unicode property classes (\\p{...}) are not supported");
      case 'c':
        refuse("control escapes (\\cX) are not supported");
      default:
        break;
    }
    if (std::isdigit(static_cast<unsigned char>(e))) refuse("backreferences are not supported");
    if (std::isalnum(static_cast<unsigned char>(e))) refuse(std::string("unknown escape '\\") + e + "'");
    --pos_;
    return utf8::decode_at(p_, pos_);
  }

  char32_t hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      if (pos_ >= p_.size() || !std::isxdigit(static_cast<unsigned char>(p_[pos_]))) fail("expected hex digits");
      const char h = p_[pos_++];
      v = v * 16 + uint32_t(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : std::tolower(h) - 'a' + 10);
    }
    if (v > kMaxCodepoint || (v >= 0xD800 && v <= 0xDFFF)) fail("the escape is not a Unicode scalar value");
    return char32_t(v);
  }

  ExprId parse_class() {
    ++pos_;
    const bool negated = at('^');
    if (negated) ++pos_;
    if (at(']')) fail("an empty character class; write \\] for a literal ']'");
    std::vector<CodepointRange> ranges;
    while (true) {
      if (pos_ >= p_.size()) fail("unterminated character class");
      if (at(']')) break;
      std::vector<CodepointRange> escaped;
      bool escaped_negated = false;
      if (at('\\') && class_escape(escaped, escaped_negated, true)) {
        ranges.insert(ranges.end(), escaped.begin(), escaped.end());
        continue;
      }
      const char32_t lo = class_char();
      char32_t hi = lo;
      if (at('-') && pos_ + 1 < p_.size() && p_[pos_ + 1] != ']') {
        ++pos_;
        if (at('\\') && pos_ + 1 < p_.size() && std::string_view("dDwWsS").find(p_[pos_ + 1]) != std::string_view::npos)
          fail("a range cannot end in a class escape");
        hi = class_char();
        if (hi < lo) fail("a character range needs its ends in order");
      }
      ranges.push_back({lo, hi});
    }
    ++pos_;
    return g_.char_class(std::move(ranges), negated);
  }

  char32_t class_char() {
    if (at('\\')) return escaped_char(true);
    if (at('[') && pos_ + 1 < p_.size() && p_[pos_ + 1] == ':') fail("POSIX classes ([:alpha:]) are not supported");
    return utf8::decode_at(p_, pos_);
  }

  Grammar& g_;
  std::string_view p_;
  size_t pos_ = 0;
};

}  // namespace

ExprId add_regex(Grammar& grammar, std::string_view pattern) { return RegexParser(grammar, pattern).parse(); }

Grammar regex_grammar(std::string_view pattern) {
  Grammar g;
  const RuleId root = g.add_rule("root");
  g.set_body(root, add_regex(g, pattern));
  g.set_root(root);
  return g;
}

}  // namespace tern::grammar
