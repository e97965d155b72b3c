#include "base/utf8.h"

namespace tern::utf8 {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Sequence length announced by a lead byte, 0 for bytes that never start a sequence
// (continuation bytes, C0/C1 overlongs, F5..FF).
int sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Whether `byte` may follow `lead` at continuation index `index` (1-based). The second
// byte's range depends on the lead (excludes overlongs, surrogates, > U+10FFFF).
bool valid_continuation(uint8_t lead, int index, uint8_t byte) {
  if (index == 1) {
    if (lead == 0xE0) return byte >= 0xA0 && byte <= 0xBF;
    if (lead == 0xED) return byte >= 0x80 && byte <= 0x9F;
    if (lead == 0xF0) return byte >= 0x90 && byte <= 0xBF;
    if (lead == 0xF4) return byte >= 0x80 && byte <= 0x8F;
  }
  return byte >= 0x80 && byte <= 0xBF;
}

// Length of the valid prefix of the sequence starting at `pos`: equals the announced
// length when the sequence is complete, is smaller when it is cut or broken.
int valid_prefix_length(std::string_view bytes, size_t pos, int length) {
  const auto lead = static_cast<uint8_t>(bytes[pos]);
  int index = 1;
  while (index < length && pos + index < bytes.size() &&
         valid_continuation(lead, index, static_cast<uint8_t>(bytes[pos + index]))) {
    ++index;
  }
  return index;
}

}  // namespace

void append_lossy(std::string_view bytes, std::string& out) {
  size_t pos = 0;
  size_t valid_start = 0;
  while (pos < bytes.size()) {
    const int length = sequence_length(static_cast<uint8_t>(bytes[pos]));
    const int valid = length == 0 ? 0 : valid_prefix_length(bytes, pos, length);
    if (length != 0 && valid == length) {
      pos += length;
      continue;
    }
    out.append(bytes.substr(valid_start, pos - valid_start));
    out.append(kReplacement);
    pos += valid == 0 ? 1 : valid;
    valid_start = pos;
  }
  out.append(bytes.substr(valid_start));
}

std::string to_valid_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  append_lossy(bytes, out);
  return out;
}

size_t incomplete_suffix_length(std::string_view bytes) {
  const size_t n = bytes.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const size_t pos = n - back;
    const auto byte = static_cast<uint8_t>(bytes[pos]);
    if (byte >= 0x80 && byte <= 0xBF) continue;  // continuation byte: look further back
    const int length = sequence_length(byte);
    const bool incomplete =
        length > static_cast<int>(back) && valid_prefix_length(bytes, pos, length) == static_cast<int>(back);
    return incomplete ? back : 0;
  }
  return 0;
}

size_t first_invalid(std::string_view bytes) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    const int length = sequence_length(static_cast<uint8_t>(bytes[pos]));
    if (length == 0 || valid_prefix_length(bytes, pos, length) != length) return pos;
    pos += length;
  }
  return std::string_view::npos;
}

bool is_valid(std::string_view bytes) { return first_invalid(bytes) == std::string_view::npos; }

char32_t decode_at(std::string_view text, size_t& pos) {
  const auto lead = static_cast<uint8_t>(text[pos]);
  const int length = sequence_length(lead);
  char32_t cp = length == 1 ? lead : lead & (0x7F >> length);
  for (int i = 1; i < length; ++i) cp = (cp << 6) | (static_cast<uint8_t>(text[pos + i]) & 0x3F);
  pos += length;
  return cp;
}

char32_t decode_before(std::string_view text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
  return decode_at(text, start);
}

void append(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace tern::utf8
