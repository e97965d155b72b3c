#include "grammar/utf8_ranges.h"

namespace tern::grammar {
namespace {

constexpr char32_t kLastOfLength[] = {0x7F, 0x7FF, 0xFFFF, 0x10FFFF};

int encode(char32_t cp, uint8_t* out) {
  if (cp < 0x80) {
    out[0] = uint8_t(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = uint8_t(0xC0 | (cp >> 6));
    out[1] = uint8_t(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = uint8_t(0xE0 | (cp >> 12));
    out[1] = uint8_t(0x80 | ((cp >> 6) & 0x3F));
    out[2] = uint8_t(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = uint8_t(0xF0 | (cp >> 18));
  out[1] = uint8_t(0x80 | ((cp >> 12) & 0x3F));
  out[2] = uint8_t(0x80 | ((cp >> 6) & 0x3F));
  out[3] = uint8_t(0x80 | (cp & 0x3F));
  return 4;
}

// Splits lo..hi until every piece has encodings that differ only in a suffix of full
// continuation-byte ranges, so the piece is one sequence of byte ranges (the method of
// RE2 and Rust's utf8-ranges).
void split(char32_t lo, char32_t hi, std::vector<std::vector<ByteRange>>& out) {
  if (lo > hi) return;
  for (char32_t last : kLastOfLength) {
    if (lo <= last && hi > last) {
      split(lo, last, out);
      split(last + 1, hi, out);
      return;
    }
  }
  if (hi < 0x80) {
    out.push_back({{uint8_t(lo), uint8_t(hi)}});
    return;
  }
  for (int i = 1; i < 4; ++i) {
    const char32_t mask = (char32_t(1) << (6 * i)) - 1;
    if ((lo & ~mask) != (hi & ~mask)) {
      if ((lo & mask) != 0) {
        split(lo, lo | mask, out);
        split((lo | mask) + 1, hi, out);
        return;
      }
      if ((hi & mask) != mask) {
        split(lo, (hi & ~mask) - 1, out);
        split(hi & ~mask, hi, out);
        return;
      }
    }
  }
  uint8_t a[4], b[4];
  const int n = encode(lo, a);
  encode(hi, b);
  std::vector<ByteRange> seq;
  for (int i = 0; i < n; ++i) seq.push_back({a[i], b[i]});
  out.push_back(std::move(seq));
}

}  // namespace

std::vector<std::vector<ByteRange>> utf8_sequences(CodepointRange range) {
  std::vector<std::vector<ByteRange>> out;
  split(range.lo, range.hi, out);
  return out;
}

void append_utf8(char32_t cp, std::string& out) {
  uint8_t buf[4];
  const int n = encode(cp, buf);
  out.append(reinterpret_cast<const char*>(buf), size_t(n));
}

bool decode_utf8(std::string_view text, size_t& pos, char32_t& cp) {
  const auto byte = [&](size_t i) { return uint8_t(text[i]); };
  if (pos >= text.size()) return false;
  const uint8_t b0 = byte(pos);
  int n = 0;
  char32_t min = 0;
  if (b0 < 0x80) {
    cp = b0;
    ++pos;
    return true;
  } else if ((b0 & 0xE0) == 0xC0) {
    n = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return false;
  }
  if (pos + size_t(n) > text.size()) return false;
  for (int i = 1; i < n; ++i) {
    const uint8_t b = byte(pos + size_t(i));
    if ((b & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  pos += size_t(n);
  return true;
}

}  // namespace tern::grammar
