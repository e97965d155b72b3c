// The normaliser equals utf8proc's NFC on every input, including the texts it decides
// are already NFC without calling utf8proc.
#include <gtest/gtest.h>
#include <utf8proc.h>

#include <random>

#include "base/utf8.h"
#include "tokenizer/normalizer.h"

namespace tern {
namespace {

Normalizer nfc_normalizer() {
  return Normalizer::from_json(parse_json_node(R"({"type": "Sequence", "normalizers": [{"type": "NFC"}]})", "test"));
}

std::string reference_nfc(const std::string& text) {
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                   &mapped, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  std::string out(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
  std::free(mapped);
  return out;
}

TEST(TokenizerNormalizer, NfcComposes) {
  const Normalizer nfc = nfc_normalizer();
  EXPECT_EQ(nfc.apply("cafe\u0301"), "caf\u00e9");
  EXPECT_EQ(nfc.apply("\u1100\u1161\u11A8"), "\uAC01");  // Hangul jamo L V T
  EXPECT_EQ(nfc.apply("\uAC00\u11A8"), "\uAC01");        // syllable LV + T
  EXPECT_EQ(nfc.apply("\u212B"), "\u00C5");              // singleton decomposition
  EXPECT_EQ(nfc.apply("\u0B47\u0B3E"), "\u0B4B");        // Oriya: the second element is a starter
  EXPECT_EQ(nfc.apply("plain 中文"), "plain 中文");
  EXPECT_TRUE(Normalizer::from_json(std::nullopt).is_identity());
}

// Every code point below U+30000, after each of a few starters that take part in
// compositions, normalises exactly as utf8proc does.
TEST(TokenizerNormalizer, EveryCodePointAfterComposingStartersMatchesUtf8proc) {
  const Normalizer nfc = nfc_normalizer();
  const char32_t starters[] = {U'a', U'\u0B47', U'\u0BC6', U'\u1100', U'\uAC00', U'\u1025'};
  int checked = 0;
  for (char32_t cp = 1; cp < 0x30000; ++cp) {
    if (cp >= 0xD800 && cp < 0xE000) continue;
    for (char32_t starter : starters) {
      std::string text;
      utf8::append(starter, text);
      utf8::append(cp, text);
      ASSERT_EQ(nfc.apply(text), reference_nfc(text))
          << std::hex << static_cast<uint32_t>(starter) << " " << static_cast<uint32_t>(cp);
      ++checked;
    }
  }
  EXPECT_GT(checked, 1000000);
}

TEST(TokenizerNormalizer, RandomMixedTextsMatchUtf8proc) {
  const Normalizer nfc = nfc_normalizer();
  const std::vector<std::pair<char32_t, char32_t>> ranges = {
      {0x20, 0x7E},     {0xC0, 0x17F},    {0x300, 0x36F},   {0x900, 0x97F},   {0xB00, 0xB7F},
      {0x1100, 0x11FF}, {0xAC00, 0xAC40}, {0x4E00, 0x4E40}, {0x3099, 0x309A}, {0x1F600, 0x1F64F}};
  std::mt19937 rng(9);
  for (int trial = 0; trial < 20000; ++trial) {
    std::string text;
    for (int i = static_cast<int>(rng() % 8); i >= 0; --i) {
      const auto& [lo, hi] = ranges[rng() % ranges.size()];
      utf8::append(lo + rng() % (hi - lo + 1), text);
    }
    ASSERT_EQ(nfc.apply(text), reference_nfc(text)) << trial;
  }
}

}  // namespace
}  // namespace tern
