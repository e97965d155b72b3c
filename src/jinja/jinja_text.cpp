#include "jinja/jinja_text.h"

#include <utf8proc.h>

namespace tern::jinja {
namespace {

// Length of the sequence introduced by lead byte `c`, 0 for an invalid lead byte.
int sequence_length(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

bool is_cased(char32_t cp) {
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

char32_t to_upper(char32_t cp) { return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp))); }
char32_t to_lower(char32_t cp) { return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))); }
char32_t to_title(char32_t cp) { return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(cp))); }

// Python uses Unicode's full case mappings (SpecialCasing.txt), where one character
// can become several; utf8proc has only the single-character ones.
struct FullCase {
  char32_t cp;
  const char* upper;
  const char* title;
};
constexpr FullCase kFullCase[] = {
    {0x00DF, "SS", "Ss"},            // ß
    {0x0149, "\u02BCN", "\u02BCN"},  // ŉ
    {0x01F0, "J\u030C", "J\u030C"},  // ǰ
    {0x0390, "\u0399\u0308\u0301", "\u0399\u0308\u0301"},
    {0x03B0, "\u03A5\u0308\u0301", "\u03A5\u0308\u0301"},
    {0x0587, "\u0535\u0552", "\u0535\u0582"},  // և
    {0x1E96, "H\u0331", "H\u0331"},
    {0x1E97, "T\u0308", "T\u0308"},
    {0x1E98, "W\u030A", "W\u030A"},
    {0x1E99, "Y\u030A", "Y\u030A"},
    {0x1E9A, "A\u02BE", "A\u02BE"},
    {0xFB00, "FF", "Ff"},
    {0xFB01, "FI", "Fi"},
    {0xFB02, "FL", "Fl"},
    {0xFB03, "FFI", "Ffi"},
    {0xFB04, "FFL", "Ffl"},
    {0xFB05, "ST", "St"},
    {0xFB06, "ST", "St"},
};

void append_upper(std::string& out, char32_t cp, bool title) {
  for (const FullCase& f : kFullCase) {
    if (f.cp == cp) {
      out += title ? f.title : f.upper;
      return;
    }
  }
  append_utf8(out, title ? to_title(cp) : to_upper(cp));
}

void append_lower(std::string& out, char32_t cp) {
  if (cp == 0x0130) {
    out += "i\u0307";  // İ -> i + combining dot above
    return;
  }
  append_utf8(out, to_lower(cp));
}

bool contains_code_point(std::string_view chars, char32_t cp) {
  size_t pos = 0;
  while (pos < chars.size())
    if (next_code_point(chars, pos) == cp) return true;
  return false;
}

// Strips code points for which `drop` holds from either end.
template <typename Pred>
std::string strip_if(std::string_view s, bool left, bool right, Pred drop) {
  size_t begin = 0;
  size_t end = s.size();
  if (left) {
    while (begin < end) {
      size_t next = begin;
      if (!drop(next_code_point(s, next))) break;
      begin = next;
    }
  }
  if (right) {
    while (end > begin) {
      size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
      size_t probe = start;
      if (!drop(next_code_point(s, probe))) break;
      end = start;
    }
  }
  return std::string(s.substr(begin, end - begin));
}

}  // namespace

char32_t next_code_point(std::string_view s, size_t& pos) {
  auto c = static_cast<unsigned char>(s[pos]);
  int len = sequence_length(c);
  if (len <= 1 || pos + len > s.size()) {
    ++pos;
    return c < 0x80 ? c : 0xFFFD;
  }
  char32_t cp = c & (0x7F >> len);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[pos + k]) & 0x3F);
  pos += len;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

size_t code_point_count(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::vector<size_t> code_point_offsets(std::string_view s) {
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) offsets.push_back(i);
  offsets.push_back(s.size());
  return offsets;
}

bool is_py_space(char32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  switch (cp) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

std::string py_strip(std::string_view s, bool left, bool right) { return strip_if(s, left, right, is_py_space); }

std::string py_strip_chars(std::string_view s, std::string_view chars, bool left, bool right) {
  return strip_if(s, left, right, [chars](char32_t cp) { return contains_code_point(chars, cp); });
}

std::vector<std::string> py_split_whitespace(std::string_view s, int64_t max_split) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (true) {
    // Skip leading whitespace.
    while (pos < s.size()) {
      size_t next = pos;
      if (!is_py_space(next_code_point(s, next))) break;
      pos = next;
    }
    if (pos >= s.size()) break;
    if (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split) {
      parts.emplace_back(s.substr(pos));
      break;
    }
    size_t end = pos;
    while (end < s.size()) {
      size_t next = end;
      if (is_py_space(next_code_point(s, next))) break;
      end = next;
    }
    parts.emplace_back(s.substr(pos, end - pos));
    pos = end;
  }
  return parts;
}

std::vector<std::string> py_split(std::string_view s, std::string_view sep, int64_t max_split) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (max_split < 0 || static_cast<int64_t>(parts.size()) < max_split) {
    size_t hit = s.find(sep, pos);
    if (hit == std::string_view::npos) break;
    parts.emplace_back(s.substr(pos, hit - pos));
    pos = hit + sep.size();
  }
  parts.emplace_back(s.substr(pos));
  return parts;
}

std::vector<std::string> py_splitlines(std::string_view s) {
  std::vector<std::string> lines;
  size_t start = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t cp_start = pos;
    char32_t cp = next_code_point(s, pos);
    bool boundary = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) || cp == 0x85 ||
                    cp == 0x2028 || cp == 0x2029;
    if (!boundary) continue;
    lines.emplace_back(s.substr(start, cp_start - start));
    if (cp == '\r' && pos < s.size() && s[pos] == '\n') ++pos;
    start = pos;
  }
  if (start < s.size()) lines.emplace_back(s.substr(start));
  return lines;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view replacement, int64_t count) {
  std::string out;
  int64_t done = 0;
  if (old.empty()) {
    // Python inserts the replacement before every code point and at the end.
    size_t pos = 0;
    while (pos < s.size()) {
      if (count >= 0 && done >= count) break;
      out += replacement;
      ++done;
      size_t start = pos;
      next_code_point(s, pos);
      out += s.substr(start, pos - start);
    }
    if (pos < s.size()) {
      out += s.substr(pos);
    } else if (count < 0 || done < count) {
      out += replacement;
    }
    return out;
  }
  size_t pos = 0;
  while (count < 0 || done < count) {
    size_t hit = s.find(old, pos);
    if (hit == std::string_view::npos) break;
    out += s.substr(pos, hit - pos);
    out += replacement;
    pos = hit + old.size();
    ++done;
  }
  out += s.substr(pos);
  return out;
}

int64_t py_count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return static_cast<int64_t>(code_point_count(s)) + 1;
  int64_t n = 0;
  for (size_t pos = s.find(sub); pos != std::string_view::npos; pos = s.find(sub, pos + sub.size())) ++n;
  return n;
}

int64_t py_find(std::string_view s, std::string_view sub) {
  size_t hit = s.find(sub);
  if (hit == std::string_view::npos) return -1;
  return static_cast<int64_t>(code_point_count(s.substr(0, hit)));
}

std::string py_upper(std::string_view s) {
  std::string out;
  size_t pos = 0;
  while (pos < s.size()) append_upper(out, next_code_point(s, pos), false);
  return out;
}

std::string py_lower(std::string_view s) {
  std::string out;
  size_t pos = 0;
  bool previous_cased = false;
  while (pos < s.size()) {
    char32_t cp = next_code_point(s, pos);
    if (cp == 0x03A3 && previous_cased) {
      // Final sigma: Σ ending a word lowercases to ς.
      size_t next = pos;
      bool followed_by_cased = next < s.size() && is_cased(next_code_point(s, next));
      append_utf8(out, followed_by_cased ? 0x03C3 : 0x03C2);
    } else {
      append_lower(out, cp);
    }
    previous_cased = is_cased(cp);
  }
  return out;
}

std::string py_title(std::string_view s) {
  std::string out;
  size_t pos = 0;
  bool previous_cased = false;
  while (pos < s.size()) {
    char32_t cp = next_code_point(s, pos);
    if (previous_cased) {
      append_lower(out, cp);
    } else {
      append_upper(out, cp, true);
    }
    previous_cased = is_cased(cp);
  }
  return out;
}

std::string py_capitalize(std::string_view s) {
  std::string out;
  size_t pos = 0;
  bool first = true;
  while (pos < s.size()) {
    char32_t cp = next_code_point(s, pos);
    if (first) {
      append_upper(out, cp, true);
    } else {
      append_lower(out, cp);
    }
    first = false;
  }
  return out;
}

bool is_py_printable(char32_t cp) {
  if (cp == ' ') return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

}  // namespace tern::jinja
