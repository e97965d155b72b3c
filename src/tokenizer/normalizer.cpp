#include "tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <vector>

#include "base/utf8.h"

namespace tern {
namespace {

constexpr int kNfc = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
constexpr char32_t kTableEnd = 0x30000;  // decompositions exist only below this

// Code points that NFC leaves unchanged whatever surrounds them: starters (combining
// class 0) that are their own NFC, whose decomposition starts with such a starter, and
// that no composition takes as its second element. Text made only of them is already
// NFC, which lets almost all text skip utf8proc. Built once from utf8proc's own data.
class NfcStableTable {
 public:
  NfcStableTable() : stable_(kTableEnd, false) {
    std::vector<bool> second(kTableEnd, false);
    for (char32_t hangul = 0x1160; hangul < 0x1200; ++hangul) second[hangul] = true;  // jamo V and T compose
    utf8proc_int32_t buffer[32];
    for (char32_t cp = 0; cp < kTableEnd; ++cp) {
      const utf8proc_ssize_t n = decompose(cp, buffer, UTF8PROC_DECOMPOSE);
      for (utf8proc_ssize_t i = 1; i < n; ++i) {
        if (static_cast<char32_t>(buffer[i]) < kTableEnd) second[buffer[i]] = true;
      }
    }
    for (char32_t cp = 0; cp < kTableEnd; ++cp) {
      if (second[cp] || combining_class(cp) != 0) continue;
      utf8proc_ssize_t n = decompose(cp, buffer, UTF8PROC_DECOMPOSE);
      if (n < 1 || combining_class(buffer[0]) != 0 ||
          (static_cast<char32_t>(buffer[0]) < kTableEnd && second[buffer[0]])) {
        continue;
      }
      n = utf8proc_normalize_utf32(buffer, n, static_cast<utf8proc_option_t>(kNfc));
      stable_[cp] = n == 1 && static_cast<char32_t>(buffer[0]) == cp;
    }
  }

  bool all_stable(std::string_view text) const {
    size_t pos = 0;
    while (pos < text.size()) {
      if (static_cast<uint8_t>(text[pos]) < 0x80) {
        ++pos;
        continue;
      }
      const char32_t cp = utf8::decode_at(text, pos);
      if (cp >= kTableEnd || !stable_[cp]) return false;
    }
    return true;
  }

 private:
  static utf8proc_ssize_t decompose(char32_t cp, utf8proc_int32_t* buffer, int options) {
    return utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buffer, 32,
                                   static_cast<utf8proc_option_t>(options), nullptr);
  }
  static int combining_class(char32_t cp) {
    return utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class;
  }

  std::vector<bool> stable_;
};

bool is_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace

Normalizer Normalizer::from_json(const std::optional<JsonNode>& node) {
  Normalizer normalizer;
  if (node) append_forms(*node, normalizer.forms_);
  return normalizer;
}

void Normalizer::append_forms(const JsonNode& node, std::vector<int>& forms) {
  const std::string type = node.required("type").as_string();
  if (type == "Sequence") {
    const JsonNode steps = node.required("normalizers");
    for (size_t i = 0; i < steps.size(); ++i) append_forms(steps.element(i), forms);
  } else if (type == "NFC") {
    forms.push_back(kNfc);
  } else if (type == "NFD") {
    forms.push_back(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
  } else if (type == "NFKC") {
    forms.push_back(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  } else if (type == "NFKD") {
    forms.push_back(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  } else {
    node.required("type").fail("unsupported normalizer \"", type, "\" (supported: NFC, NFD, NFKC, NFKD, Sequence)");
  }
}

std::string Normalizer::apply(std::string_view text) const {
  std::string storage;
  return std::string(apply(text, storage));
}

std::string_view Normalizer::apply(std::string_view text, std::string& storage) const {
  if (forms_.empty() || is_ascii(text)) return text;  // every normal form leaves ASCII unchanged
  if (forms_.size() == 1 && forms_[0] == kNfc) {
    static const NfcStableTable table;
    if (table.all_stable(text)) return text;
  }
  std::string& out = storage;
  out.assign(text);
  for (int form : forms_) {
    utf8proc_uint8_t* mapped = nullptr;
    const utf8proc_ssize_t length =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(out.data()), static_cast<utf8proc_ssize_t>(out.size()),
                     &mapped, static_cast<utf8proc_option_t>(form));
    if (length < 0) throw error("normalizer: ", utf8proc_errmsg(length));
    out.assign(reinterpret_cast<const char*>(mapped), static_cast<size_t>(length));
    std::free(mapped);
  }
  return out;
}

}  // namespace tern
